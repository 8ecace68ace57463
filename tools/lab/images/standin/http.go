package standin

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

// JSON writes v with status 200.
func JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Metrics answers /metrics in the Prometheus text format with one gauge saying what this is, so a
// scrape target backed by a stand-in is up and names itself in its own samples.
func Metrics(component string, extra func(w http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP lab_standin_info A lab stand-in, not the real component.\n")
		fmt.Fprintf(w, "# TYPE lab_standin_info gauge\nlab_standin_info{component=%q} 1\n", component)
		if extra != nil {
			extra(w)
		}
	}
}

// Serve listens on addr until the process is told to stop (the kubelet's SIGTERM).
func Serve(logger *log.Logger, addr string, handler http.Handler) {
	logger.Printf("listening on %s", addr)
	go func() { logger.Fatal(http.ListenAndServe(addr, handler)) }()
	Wait()
}

// Wait blocks until SIGTERM or SIGINT: a container that has nothing to do but must stay running.
func Wait() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
