// Command labhttp is the lab's test workload. As a server (the default) it answers with the pod's
// host name and the path asked for, and logs one line per request on stdout (what `kubectl logs`
// shows); GET /healthz answers "ok" for probes. A POST whose body is an Alertmanager webhook
// notification is logged with its receiver, status and alert names (the lab's alert receiver). With -get URL it is the client instead: it fetches
// URL (a Service's DNS name, from another pod), prints the answer and exits 0, or exits 1 after
// -tries failed attempts one second apart. -in-cluster makes the client use the pod's ServiceAccount
// (its token and the cluster CA), as an in-cluster API client does.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	get := flag.String("get", "", "fetch this URL, print the answer and exit")
	tries := flag.Int("tries", 30, "attempts of -get before giving up")
	inCluster := flag.Bool("in-cluster", false, "-get with the pod's ServiceAccount token and CA")
	flag.Parse()
	logger := log.New(os.Stdout, "", log.LstdFlags|log.LUTC)
	if *get != "" {
		client, token, err := newClient(*inCluster)
		if err != nil {
			logger.Fatal(err)
		}
		os.Exit(fetch(logger, client, token, *get, *tries))
	}
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("request %s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		if r.Method == http.MethodPost {
			logNotification(logger, r.Body)
		}
		fmt.Fprintf(w, "labhttp on %s: %s\n", host, r.URL.Path)
	})
	logger.Printf("labhttp listening on %s", *listen)
	logger.Fatal(http.ListenAndServe(*listen, nil))
}

// notification is the part of Alertmanager's webhook payload (version 4) that the log shows.
type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func logNotification(logger *log.Logger, body io.Reader) {
	var n notification
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&n); err != nil || n.Receiver == "" {
		return
	}
	names := make([]string, 0, len(n.Alerts))
	for _, a := range n.Alerts {
		names = append(names, a.Labels["alertname"])
	}
	sort.Strings(names)
	logger.Printf("notification receiver=%s status=%s alerts=%s", n.Receiver, n.Status, strings.Join(names, ","))
}

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount/"

func newClient(inCluster bool) (*http.Client, string, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	if !inCluster {
		return client, "", nil
	}
	ca, err := os.ReadFile(serviceAccount + "ca.crt")
	if err != nil {
		return nil, "", err
	}
	token, err := os.ReadFile(serviceAccount + "token")
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return client, string(token), nil
}

func fetch(logger *log.Logger, client *http.Client, token, url string, tries int) int {
	for i := 1; i <= tries; i++ {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			logger.Print(err)
			return 1
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			logger.Printf("GET %s: %s %s", url, resp.Status, body)
			if resp.StatusCode == http.StatusOK {
				return 0
			}
		} else {
			logger.Printf("GET %s: attempt %d: %v", url, i, err)
		}
		time.Sleep(time.Second)
	}
	return 1
}
