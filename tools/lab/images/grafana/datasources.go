package main

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"lab.local/images/standin"
)

type datasource struct {
	ID        int    `json:"id"`
	UID       string `json:"uid"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	URL       string `json:"url"`
	Access    string `json:"access"`
	IsDefault bool   `json:"isDefault"`
}

// datasources reads the provisioning files in dir. The standard library has no YAML parser, and
// the files are the charts' flat lists ("- name: x" items with scalar keys), so a line reader that
// takes each item's scalar keys is enough; nested maps (jsonData) are skipped by indentation.
func datasources(dir string) []datasource {
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	sort.Strings(files)
	var out []datasource
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		out = append(out, parseDatasources(string(data))...)
	}
	for i := range out {
		out[i].ID = i + 1
		if out[i].UID == "" {
			out[i].UID = strings.ToLower(out[i].Name)
		}
	}
	return out
}

func parseDatasources(text string) []datasource {
	var out []datasource
	inList, keyIndent := false, -1
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if indent == 0 && trimmed != "" && !strings.HasPrefix(trimmed, "-") {
			inList = strings.HasPrefix(trimmed, "datasources:")
			continue
		}
		if !inList || trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "- ") {
			out = append(out, datasource{})
			keyIndent = indent + 2
			trimmed, indent = trimmed[2:], keyIndent
		}
		if len(out) == 0 || indent != keyIndent {
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		ds := &out[len(out)-1]
		switch key {
		case "name":
			ds.Name = value
		case "type":
			ds.Type = value
		case "uid":
			ds.UID = value
		case "url":
			ds.URL = value
		case "access":
			ds.Access = value
		case "isDefault":
			ds.IsDefault = value == "true"
		}
	}
	return out
}

// the readiness path each datasource type's server answers without credentials or a query
var readyPaths = map[string]string{"prometheus": "-/ready", "alertmanager": "-/ready", "loki": "ready"}

// datasourceHealth asks the datasource's server whether it is ready, as Grafana's health check
// reaches the datasource from the Grafana pod.
func datasourceHealth(w http.ResponseWriter, all []datasource, uid string) {
	for _, ds := range all {
		if ds.UID != uid {
			continue
		}
		url := strings.TrimRight(ds.URL, "/") + "/" + readyPaths[ds.Type]
		client := http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				standin.JSON(w, map[string]string{"status": "OK", "message": "the lab stand-in reached " + url})
				return
			}
			err = &standin.StatusError{Code: resp.StatusCode, Message: url + ": " + resp.Status}
		}
		w.WriteHeader(http.StatusBadRequest)
		standin.JSON(w, map[string]string{"status": "ERROR", "message": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNotFound)
	standin.JSON(w, map[string]string{"message": "Data source not found"})
}
