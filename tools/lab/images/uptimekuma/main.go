// Command uptimekuma is the lab's stand-in for Uptime Kuma (a Node.js application, not a Go
// module): it answers on UPTIME_KUMA_PORT as the real one's web front does before anyone logged
// in, / redirecting to /dashboard, which is what the collection's HTTP check of it expects.
package main

import (
	"fmt"
	"net/http"

	"lab.local/images/standin"
)

func main() {
	logger := standin.Logger("uptime-kuma")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	})
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<!doctype html><title>Uptime Kuma (lab stand-in)</title><p>lab stand-in, no monitors</p>")
	})
	mux.HandleFunc("GET /api/entry-page", func(w http.ResponseWriter, _ *http.Request) {
		standin.JSON(w, map[string]string{"type": "entryPage", "entryPage": "dashboard"})
	})
	mux.Handle("GET /metrics", standin.Metrics("uptime-kuma", nil))
	standin.Serve(logger, ":"+standin.Env("UPTIME_KUMA_PORT", "3001"), mux)
}
