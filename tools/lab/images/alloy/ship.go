package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tailer remembers how far each file was shipped (in memory: a restarted stand-in ships a file
// again, which the checks, looking for fresh marker events, do not mind). Offsets read in a round
// count only once Loki took the push (commit), so lines read while Loki is not up yet are sent again.
type tailer struct {
	offsets, pending map[string]int64
}

func newTailer() *tailer { return &tailer{offsets: map[string]int64{}, pending: map[string]int64{}} }

// commit keeps the offsets of the round (ok) or forgets them, so the round's lines are read again.
func (t *tailer) commit(ok bool) {
	for path, offset := range t.pending {
		if ok {
			t.offsets[path] = offset
		}
		delete(t.pending, path)
	}
}

// newLines returns the complete lines appended to path since the last call; the first call on a
// file starts at its end unless fromStart, so an old audit log is not shipped in one burst.
func (t *tailer) newLines(path string, fromStart bool) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	offset, seen := t.offsets[path]
	if !seen && !fromStart {
		offset = info.Size()
	}
	if info.Size() < offset { // rotated or truncated
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	var lines []string
	reader := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := reader.ReadString('\n')
		if err != nil { // an incomplete last line waits for the next round
			break
		}
		offset += int64(len(line))
		lines = append(lines, strings.TrimRight(line, "\n"))
	}
	t.pending[path] = offset
	if !seen && len(lines) == 0 {
		t.offsets[path] = offset // where a file starts being followed, even if nothing is shipped
	}
	return lines
}

type pushStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]string        `json:"values"`
}

// podLogStreams reads /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log files, labelled as
// the role's discovery.relabel rules label them, each line cut to its message (stage.cri).
func podLogStreams(t *tailer, root, node string, now time.Time) []pushStream {
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*.log"))
	var out []pushStream
	for _, file := range files {
		container := filepath.Base(filepath.Dir(file))
		parts := strings.SplitN(filepath.Base(filepath.Dir(filepath.Dir(file))), "_", 3)
		if len(parts) != 3 {
			continue
		}
		lines := t.newLines(file, true)
		if len(lines) == 0 {
			continue
		}
		labels := map[string]string{"namespace": parts[0], "pod": parts[1], "container": container,
			"node": node, "job": parts[0] + "/" + container}
		out = append(out, pushStream{labels, values(lines, now, criMessage)})
	}
	return out
}

// criMessage is the message of a CRI log line: "<time> <stream> <flags> <message>".
func criMessage(line string) string {
	fields := strings.SplitN(line, " ", 4)
	if len(fields) == 4 {
		return fields[3]
	}
	return line
}

func values(lines []string, now time.Time, f func(string) string) [][]string {
	out := make([][]string, 0, len(lines))
	for i, line := range lines {
		// distinct timestamps keep the lines' order within the stream
		out = append(out, []string{strconv.FormatInt(now.UnixNano()+int64(i), 10), f(line)})
	}
	return out
}

// auditStreams redacts each audit event line, then labels it with the fields stage.json names.
func auditStreams(p pipeline, lines []string, node string, now time.Time) []pushStream {
	byLabels := map[string]*pushStream{}
	var order []string
	for i, line := range lines {
		line = p.redact(line)
		labels := map[string]string{"job": "kubernetes-audit", "node": node}
		var event map[string]any
		if json.Unmarshal([]byte(line), &event) == nil {
			for label, path := range p.auditLabels {
				if v := field(event, path); v != "" {
					labels[label] = v
				}
			}
		}
		key := fmt.Sprint(labels)
		if byLabels[key] == nil {
			byLabels[key] = &pushStream{Stream: labels}
			order = append(order, key)
		}
		ts := strconv.FormatInt(now.UnixNano()+int64(i), 10)
		byLabels[key].Values = append(byLabels[key].Values, []string{ts, line})
	}
	out := make([]pushStream, 0, len(order))
	for _, key := range order {
		out = append(out, *byLabels[key])
	}
	return out
}

func field(doc map[string]any, path string) string {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[part]
	}
	if s, ok := cur.(string); ok {
		return s
	}
	return ""
}

func push(url string, streams []pushStream) error {
	if len(streams) == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"streams": streams})
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("push to %s: %s", url, resp.Status)
	}
	return nil
}
