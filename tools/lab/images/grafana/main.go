// Command grafana is the lab's stand-in for Grafana (AGPL, not built here). It answers the HTTP
// API the collection's verify_grafana checks call, from what the chart mounts into the pod:
// /api/health, POST /login with the admin credentials of GF_SECURITY_ADMIN_USER/PASSWORD (a
// session cookie), /api/datasources from the provisioned datasource files with a health check
// that asks the datasource's URL, and /api/search over the dashboard JSON files the sidecar wrote.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"

	"lab.local/images/standin"
)

const version = "13.2.0"

var httpPort = regexp.MustCompile(`(?m)^\s*http_port\s*=\s*(\d+)`)

type server struct {
	user, password string
	provisioning   string // GF_PATHS_PROVISIONING
	dashboards     []string
	mu             sync.Mutex
	sessions       map[string]bool
}

func main() {
	logger, args := standin.Start("grafana")
	port := "3000"
	if ini, err := os.ReadFile(args.Get("config", "/etc/grafana/grafana.ini")); err == nil {
		if m := httpPort.FindSubmatch(ini); m != nil {
			port = string(m[1])
		}
	}
	s := &server{
		user:         standin.Env("GF_SECURITY_ADMIN_USER", "admin"),
		password:     standin.Env("GF_SECURITY_ADMIN_PASSWORD", "admin"),
		provisioning: standin.Env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
		// the chart's dashboard sidecar writes to /tmp/dashboards, its provisioned dashboards go to
		// /var/lib/grafana/dashboards; LAB_GRAFANA_DASHBOARDS (a colon list) replaces both, for tests
		dashboards: strings.Split(standin.Env("LAB_GRAFANA_DASHBOARDS", "/tmp/dashboards:/var/lib/grafana/dashboards"), ":"),
		sessions:   map[string]bool{},
	}
	standin.Serve(logger, ":"+port, s.routes())
}

func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) {
		standin.JSON(w, map[string]string{"database": "ok", "version": version, "commit": "lab-stand-in"})
	})
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /api/datasources", s.authed(func(w http.ResponseWriter, _ *http.Request) {
		standin.JSON(w, datasources(s.provisioning+"/datasources"))
	}))
	mux.HandleFunc("GET /api/datasources/uid/{uid}/health", s.authed(func(w http.ResponseWriter, r *http.Request) {
		datasourceHealth(w, datasources(s.provisioning+"/datasources"), r.PathValue("uid"))
	}))
	mux.HandleFunc("GET /api/search", s.authed(func(w http.ResponseWriter, r *http.Request) {
		standin.JSON(w, search(s.dashboards, r.URL.Query().Get("query")))
	}))
	// the sidecars' reload calls after writing a file: every answer above reads the files anew
	mux.HandleFunc("POST /api/admin/provisioning/{kind}/reload", s.authed(func(w http.ResponseWriter, _ *http.Request) {
		standin.JSON(w, map[string]string{"message": "reloaded"})
	}))
	mux.Handle("GET /metrics", standin.Metrics("grafana", nil))
	return mux
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ User, Password string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.User != s.user || body.Password != s.password {
		w.WriteHeader(http.StatusUnauthorized)
		standin.JSON(w, map[string]string{"message": "Invalid username or password"})
		return
	}
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	token := hex.EncodeToString(buf)
	s.mu.Lock()
	s.sessions[token] = true
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "grafana_session", Value: token, Path: "/", HttpOnly: true})
	standin.JSON(w, map[string]string{"message": "Logged in"})
}

// authed lets through a request with a session cookie from /login or the admin's basic auth (what
// the sidecars send), as Grafana's API refuses anonymous callers.
func (s *server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if user, password, ok := r.BasicAuth(); ok && user == s.user && password == s.password {
			next(w, r)
			return
		}
		if c, err := r.Cookie("grafana_session"); err == nil {
			s.mu.Lock()
			ok := s.sessions[c.Value]
			s.mu.Unlock()
			if ok {
				next(w, r)
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
		standin.JSON(w, map[string]string{"message": "Unauthorized"})
	}
}
