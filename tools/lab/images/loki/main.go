// Command loki is the lab's stand-in for Loki (AGPL, not built here): it keeps pushed log streams
// in memory and answers the API the collection's checks and the lab's Alloy stand-in use: /ready,
// /config (the mounted configuration file), /metrics, POST /loki/api/v1/push (JSON), and
// /loki/api/v1/{series,query_range,query,labels} for a LogQL subset (selector and line filters).
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"lab.local/images/standin"
)

var listenPort = regexp.MustCompile(`(?m)^\s*http_listen_port:\s*(\d+)`)

func main() {
	logger, args := standin.Start("loki")
	config, err := os.ReadFile(args.Get("config.file", "/etc/loki/local-config.yaml"))
	if err != nil {
		logger.Printf("no configuration file: %v", err)
	}
	port := "3100"
	if m := listenPort.FindSubmatch(config); m != nil {
		port = string(m[1])
	}
	standin.Serve(logger, ":"+port, routes(newStore(), config))
}

func routes(s *store, config []byte) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(config)
	})
	mux.Handle("GET /metrics", standin.Metrics("loki", func(w http.ResponseWriter) {
		s.mu.Lock()
		defer s.mu.Unlock()
		fmt.Fprintf(w, "# TYPE loki_ingester_streams gauge\nloki_ingester_streams %d\n", len(s.streams))
		fmt.Fprintf(w, "# TYPE loki_distributor_lines_received_total counter\nloki_distributor_lines_received_total %d\n", s.lines)
	}))
	mux.HandleFunc("POST /loki/api/v1/push", func(w http.ResponseWriter, r *http.Request) { push(s, w, r) })
	mux.HandleFunc("GET /loki/api/v1/series", func(w http.ResponseWriter, r *http.Request) { series(s, w, r) })
	mux.HandleFunc("GET /loki/api/v1/query_range", func(w http.ResponseWriter, r *http.Request) { queryRange(s, w, r) })
	mux.HandleFunc("GET /loki/api/v1/query", func(w http.ResponseWriter, r *http.Request) { queryRange(s, w, r) })
	mux.HandleFunc("GET /loki/api/v1/labels", func(w http.ResponseWriter, r *http.Request) { labels(s, w) })
	return mux
}

func fail(w http.ResponseWriter, err error) {
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintln(w, err)
}

func push(s *store, w http.ResponseWriter, r *http.Request) {
	var body struct {
		Streams []struct {
			Stream map[string]string
			Values [][]string
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, fmt.Errorf("the lab stand-in takes JSON pushes only: %v", err))
		return
	}
	for _, st := range body.Streams {
		var entries []entry
		for _, v := range st.Values {
			if len(v) < 2 {
				continue
			}
			ts, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil {
				fail(w, err)
				return
			}
			entries = append(entries, entry{ts: ts, line: v[1]})
		}
		s.push(st.Stream, entries)
	}
	w.WriteHeader(http.StatusNoContent)
}

// window reads start and end (ns; the default is the last hour, as Loki's).
func window(r *http.Request) (int64, int64) {
	now := time.Now().UnixNano()
	start, end := now-int64(time.Hour), now
	if v, err := strconv.ParseInt(r.FormValue("start"), 10, 64); err == nil {
		start = v
	}
	if v, err := strconv.ParseInt(r.FormValue("end"), 10, 64); err == nil {
		end = v
	}
	return start, end
}

func series(s *store, w http.ResponseWriter, r *http.Request) {
	start, end := window(r)
	data := []map[string]string{}
	for _, selector := range r.URL.Query()["match[]"] {
		q, err := parseQuery(selector)
		if err != nil {
			fail(w, err)
			return
		}
		for _, st := range s.find(q, start, end, 0, false) {
			data = append(data, st.labels)
		}
	}
	standin.JSON(w, map[string]any{"status": "success", "data": data})
}

func queryRange(s *store, w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.FormValue("query"))
	if err != nil {
		fail(w, err)
		return
	}
	start, end := window(r)
	limit, err := strconv.Atoi(r.FormValue("limit"))
	if err != nil {
		limit = 100
	}
	result := []map[string]any{}
	for _, st := range s.find(q, start, end, limit, r.FormValue("direction") != "forward") {
		values := make([][]string, 0, len(st.entries))
		for _, e := range st.entries {
			values = append(values, []string{strconv.FormatInt(e.ts, 10), e.line})
		}
		result = append(result, map[string]any{"stream": st.labels, "values": values})
	}
	standin.JSON(w, map[string]any{"status": "success",
		"data": map[string]any{"resultType": "streams", "result": result}})
}

func labels(s *store, w http.ResponseWriter) {
	s.mu.Lock()
	seen := map[string]bool{}
	names := []string{}
	for _, st := range s.streams {
		for name := range st.labels {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	s.mu.Unlock()
	standin.JSON(w, map[string]any{"status": "success", "data": names})
}
