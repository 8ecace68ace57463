package standin

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token, CA and namespace
// (LAB_SERVICEACCOUNT_DIR elsewhere, for the tests, which serve a fake API on loopback).
var ServiceAccountDir = Env("LAB_SERVICEACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")

// Kube is a minimal Kubernetes API client: JSON over HTTPS with the pod's ServiceAccount, as the
// real components' client-go does in a cluster.
type Kube struct {
	Base      string // https://host:port
	Token     string
	Namespace string // the pod's own namespace
	Client    *http.Client
}

// InCluster builds the client from the ServiceAccount mount and KUBERNETES_SERVICE_HOST/PORT.
func InCluster() (*Kube, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(ServiceAccountDir + "/" + name)
		return strings.TrimSpace(string(b)), err
	}
	token, err := read("token")
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(ServiceAccountDir + "/ca.crt")
	if err != nil {
		return nil, err
	}
	namespace, _ := read("namespace")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &Kube{Base: "https://" + host, Token: token, Namespace: namespace,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: transport}}, nil
}

// Do sends body (JSON-encoded unless nil) and decodes the answer into out (unless nil); an HTTP
// status of 300 or more is an error that carries the status code.
func (k *Kube) Do(method, path, contentType string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, k.Base+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+k.Token)
	req.Header.Set("Accept", "application/json")
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := k.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return &StatusError{Code: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s %s", method, path, resp.Status, data)}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// StatusError is an answer of the apiserver other than 2xx.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// IsStatus reports whether err is an apiserver answer with the status code.
func IsStatus(err error, code int) bool {
	se, ok := err.(*StatusError)
	return ok && se.Code == code
}
