// Command goldilocks is the lab's stand-in for Fairwinds' Goldilocks (its module is not served by
// the Go module proxy). `goldilocks controller` does what the real controller does for the
// collection's vpa.coverage check: it keeps one VPA with updateMode Off per Deployment and
// StatefulSet (targeting the workload's controller when it has one, as the real controller targets
// the topmost controller) of every namespace it covers (--on-by-default, --exclude-namespaces, the
// goldilocks.fairwinds.com/enabled label), polling instead of watching. `goldilocks dashboard`
// serves /health and a page listing the VPAs on --port.
package main

import (
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"lab.local/images/standin"
)

func main() {
	logger, args := standin.Start("goldilocks")
	mode := ""
	if len(args.Positionals) > 0 {
		mode = args.Positionals[0]
	}
	kube, err := standin.InCluster()
	switch {
	case mode == "dashboard":
		dashboard(logger, kube, args.Get("port", "8080"))
	case mode == "controller" && err == nil:
		c := controller{kube: kube, logger: logger, onByDefault: args.Get("on-by-default", "false") == "true",
			excluded: map[string]bool{}}
		for _, ns := range strings.Split(args.Get("exclude-namespaces", ""), ",") {
			c.excluded[strings.TrimSpace(ns)] = true
		}
		go func() {
			for {
				c.reconcile()
				time.Sleep(10 * time.Second)
			}
		}()
		standin.Wait()
	default:
		logger.Printf("%q with in-cluster API error %v: idle", mode, err)
		standin.Wait()
	}
}

func dashboard(logger *log.Logger, kube *standin.Kube, port string) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<!doctype html><title>Goldilocks (lab stand-in)</title><ul>")
		if kube != nil {
			var list vpaList
			if kube.Do(http.MethodGet, vpaPath("")+"?labelSelector=source%3Dgoldilocks", "", nil, &list) == nil {
				for _, v := range list.Items {
					fmt.Fprintf(w, "<li>%s/%s</li>\n", v.Metadata.Namespace, v.Metadata.Name)
				}
			}
		}
		fmt.Fprintln(w, "</ul>")
	})
	standin.Serve(logger, ":"+port, mux)
}
