package main

import (
	"sort"
	"strings"
	"sync"
)

// perStream bounds the memory of a stream: the checks look at the last hour at most, and a lab's
// pods log little, so the oldest entries beyond this are dropped.
const perStream = 20000

type entry struct {
	ts   int64 // ns
	line string
}

type stream struct {
	labels  map[string]string
	entries []entry
}

// store keeps the pushed streams in memory (a stand-in keeps nothing across restarts).
type store struct {
	mu      sync.Mutex
	streams map[string]*stream
	lines   int
}

func newStore() *store { return &store{streams: map[string]*stream{}} }

func key(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name + "\x00" + labels[name] + "\x00")
	}
	return b.String()
}

func (s *store) push(labels map[string]string, entries []entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(labels)
	st := s.streams[k]
	if st == nil {
		st = &stream{labels: labels}
		s.streams[k] = st
	}
	st.entries = append(st.entries, entries...)
	sort.SliceStable(st.entries, func(i, j int) bool { return st.entries[i].ts < st.entries[j].ts })
	if over := len(st.entries) - perStream; over > 0 {
		st.entries = st.entries[over:]
	}
	s.lines += len(entries)
}

// find returns the streams the query selects with their entries in [start, end] that pass its line
// filters, newest first (backward) or oldest first, at most limit entries in all.
func (s *store) find(q query, start, end int64, limit int, backward bool) []stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stream
	total := 0
	for _, st := range s.streams {
		if !q.selects(st.labels) {
			continue
		}
		var kept []entry
		for _, e := range st.entries {
			if e.ts >= start && e.ts <= end && q.keeps(e.line) {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			continue
		}
		if backward {
			for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
				kept[i], kept[j] = kept[j], kept[i]
			}
		}
		if limit > 0 && total+len(kept) > limit {
			kept = kept[:limit-total]
		}
		total += len(kept)
		out = append(out, stream{labels: st.labels, entries: kept})
		if limit > 0 && total >= limit {
			break
		}
	}
	return out
}
