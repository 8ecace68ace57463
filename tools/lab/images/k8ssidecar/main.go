// Command k8ssidecar is the lab's stand-in for kiwigrid's k8s-sidecar (a Python application, not
// built here). Like the real one it copies the data of every ConfigMap and Secret labelled LABEL
// (=LABEL_VALUE when set) in NAMESPACE (ALL, a comma list, or the pod's own) into FOLDER, and
// calls REQ_URL after a change, but by polling the API every few seconds instead of watching it.
package main

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lab.local/images/standin"
)

const interval = 5 * time.Second

type object struct {
	Metadata struct {
		Namespace, Name string
	}
	Data map[string]string
}

func main() {
	logger := standin.Logger("k8s-sidecar")
	folder := standin.Env("FOLDER", "/tmp")
	kube, err := standin.InCluster()
	if err != nil {
		// outside a cluster there is nothing to copy: stay up, as the pod expects a running sidecar
		logger.Printf("no in-cluster API (%v): idle", err)
		standin.Wait()
		return
	}
	resources := []string{"configmaps", "secrets"}
	switch standin.Env("RESOURCE", "configmap") {
	case "configmap":
		resources = resources[:1]
	case "secret":
		resources = resources[1:]
	}
	go func() {
		written := map[string]string{}
		for {
			changed := false
			for _, resource := range resources {
				for _, path := range listPaths(kube.Namespace, resource) {
					changed = sync(kube, path, resource == "secrets", folder, written, logger) || changed
				}
			}
			if changed {
				notify(logger)
			}
			time.Sleep(interval)
		}
	}()
	standin.Wait()
}

func listPaths(own, resource string) []string {
	selector := os.Getenv("LABEL")
	if v := os.Getenv("LABEL_VALUE"); v != "" {
		selector += "=" + v
	}
	query := "?labelSelector=" + url.QueryEscape(selector)
	namespaces := standin.Env("NAMESPACE", own)
	if namespaces == "ALL" {
		return []string{"/api/v1/" + resource + query}
	}
	var out []string
	for _, ns := range strings.Split(namespaces, ",") {
		out = append(out, "/api/v1/namespaces/"+strings.TrimSpace(ns)+"/"+resource+query)
	}
	return out
}

// sync writes the files of the objects at path that differ from what was written before.
func sync(kube *standin.Kube, path string, secret bool, folder string, written map[string]string,
	logger interface{ Printf(string, ...any) }) bool {
	var list struct{ Items []object }
	if err := kube.Do(http.MethodGet, path, "", nil, &list); err != nil {
		logger.Printf("list: %v", err)
		return false
	}
	changed := false
	for _, item := range list.Items {
		for name, value := range item.Data {
			if secret {
				decoded, err := base64.StdEncoding.DecodeString(value)
				if err != nil {
					continue
				}
				value = string(decoded)
			}
			file := filepath.Join(folder, filepath.Base(name))
			if written[file] == value {
				continue
			}
			if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
				logger.Printf("write %s: %v", file, err)
				continue
			}
			written[file] = value
			changed = true
			logger.Printf("wrote %s from %s/%s", file, item.Metadata.Namespace, item.Metadata.Name)
		}
	}
	return changed
}

// notify tells the component to reload (REQ_URL, REQ_METHOD, REQ_USERNAME/REQ_PASSWORD), as the
// real sidecar does after writing.
func notify(logger interface{ Printf(string, ...any) }) {
	target := os.Getenv("REQ_URL")
	if target == "" {
		return
	}
	req, err := http.NewRequest(standin.Env("REQ_METHOD", http.MethodGet), target, nil)
	if err != nil {
		return
	}
	if user := os.Getenv("REQ_USERNAME"); user != "" {
		req.SetBasicAuth(user, os.Getenv("REQ_PASSWORD"))
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		logger.Printf("%s %s: %v", req.Method, target, err)
		return
	}
	resp.Body.Close()
}
