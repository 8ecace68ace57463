package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type hit struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	Type  string `json:"type"`
	URI   string `json:"uri"`
}

// search lists the dashboards in dirs (JSON files, any depth: the sidecar may write folders)
// whose title contains query, case-insensitively, as /api/search?type=dash-db does.
func search(dirs []string, query string) []hit {
	out := []hit{}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
			if err != nil || entry.IsDir() || !strings.HasSuffix(path, ".json") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			var doc struct{ UID, Title string }
			if json.Unmarshal(data, &doc) != nil || doc.Title == "" {
				return nil
			}
			if strings.Contains(strings.ToLower(doc.Title), strings.ToLower(query)) {
				out = append(out, hit{UID: doc.UID, Title: doc.Title, Type: "dash-db", URI: "db/" + doc.UID})
			}
			return nil
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Title < out[j].Title })
	return out
}
