// Command alloy is the lab's stand-in for Grafana Alloy (AGPL, not built here). It reads the
// config.alloy the role renders (`alloy run <file>`) and does what that pipeline asks of this
// node, by polling instead of Alloy's components: it ships the pod logs under /var/log/pods and the
// apiserver's audit log (redacted, labelled) to Loki's push API as JSON, and answers /-/ready,
// /-/healthy, /-/reload (the config reloader's call) and /metrics.
package main

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"lab.local/images/standin"
)

const interval = time.Second

func main() {
	logger, args := standin.Start("alloy")
	configPath := "/etc/alloy/config.alloy"
	if len(args.Positionals) > 1 && args.Positionals[0] == "run" {
		configPath = args.Positionals[1]
	}
	node := standin.Env("NODE_NAME", standin.Env("HOSTNAME", "unknown"))
	var mu sync.Mutex
	load := func() pipeline {
		text, err := os.ReadFile(configPath)
		if err != nil {
			logger.Printf("cannot read %s: %v", configPath, err)
		}
		return parseConfig(string(text))
	}
	current := load()
	go func() {
		t := newTailer()
		for {
			mu.Lock()
			p := current
			mu.Unlock()
			ship(logger, t, p, node)
			time.Sleep(interval)
		}
	}()
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Alloy is ready.") }
	mux.HandleFunc("GET /-/ready", ok)
	mux.HandleFunc("GET /-/healthy", ok)
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		current = load()
		mu.Unlock()
		fmt.Fprintln(w, "config reloaded")
	})
	mux.Handle("GET /metrics", standin.Metrics("alloy", nil))
	standin.Serve(logger, args.Get("server.http.listen-addr", "0.0.0.0:12345"), mux)
}

func ship(logger interface{ Printf(string, ...any) }, t *tailer, p pipeline, node string) {
	if p.pushURL == "" {
		return
	}
	now := time.Now()
	var streams []pushStream
	if p.podLogs {
		// LAB_ALLOY_POD_LOGS: another root, for the tests (the pod sees its node's logs at /var/log/pods)
		streams = podLogStreams(t, standin.Env("LAB_ALLOY_POD_LOGS", "/var/log/pods"), node, now)
	}
	if p.auditPath != "" {
		streams = append(streams, auditStreams(p, t.newLines(p.auditPath, false), node, now)...)
	}
	err := push(p.pushURL, streams)
	if err != nil {
		logger.Printf("%v", err)
	}
	t.commit(err == nil)
}
