// Command exportarr is the lab's stand-in for Exportarr (its module is not served by the Go
// module proxy). `exportarr <app>` serves /healthz and /metrics on PORT; the metrics say whether
// the app at URL answers its status API with APIKEY, as Exportarr's <app>_system_status does, so
// a ServiceMonitor's target is up and the sample tells a missing app from a working one.
package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"lab.local/images/standin"
)

// the status API of each *arr app (Bazarr's differs from the Servarr apps')
var statusPaths = map[string]string{"sonarr": "/api/v3/system/status", "radarr": "/api/v3/system/status",
	"lidarr": "/api/v1/system/status", "readarr": "/api/v1/system/status", "prowlarr": "/api/v1/system/status",
	"bazarr": "/api/system/status"}

func main() {
	logger, args := standin.Start("exportarr")
	app := "sonarr"
	if len(args.Positionals) > 0 {
		app = args.Positionals[0]
	}
	url := strings.TrimRight(standin.Env("URL", args.Get("url", "")), "/")
	key := standin.Env("APIKEY", args.Get("api-key", ""))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.Handle("GET /metrics", standin.Metrics("exportarr", func(w http.ResponseWriter) {
		fmt.Fprintf(w, "# HELP %s_system_status System Status\n# TYPE %s_system_status gauge\n", app, app)
		fmt.Fprintf(w, "%s_system_status{url=%q} %d\n", app, url, status(url+statusPaths[app], key))
	}))
	standin.Serve(logger, ":"+standin.Env("PORT", args.Get("port", "9707")), mux)
}

func status(url, key string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("X-Api-Key", key)
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return 1
	}
	return 0
}
