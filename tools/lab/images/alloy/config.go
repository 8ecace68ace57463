package main

import (
	"regexp"
	"strconv"
	"strings"
)

// pipeline is what the stand-in takes from the rendered config.alloy: where to push, which audit
// file to tail, its redaction (stage.replace) and the labels its stage.json extracts. The Alloy
// syntax is read with expressions for the role's template, not parsed: a stand-in follows the
// configuration the collection writes, not every configuration Alloy accepts.
type pipeline struct {
	pushURL     string
	podLogs     bool
	auditPath   string
	redactions  []*regexp.Regexp
	replacement string
	auditLabels map[string]string // label -> dotted field path of the audit event
}

var (
	urlRE        = regexp.MustCompile(`(?m)^\s*url\s*=\s*("(?:[^"\\]|\\.)*")`)
	pathRE       = regexp.MustCompile(`"__path__"\s*=\s*("(?:[^"\\]|\\.)*")`)
	expressionRE = regexp.MustCompile("(?m)^\\s*expression\\s*=\\s*`([^`]*)`")
	replaceRE    = regexp.MustCompile(`(?m)^\s*replace\s*=\s*("(?:[^"\\]|\\.)*")`)
	jsonStageRE  = regexp.MustCompile(`(?s)stage\.json\s*\{\s*expressions\s*=\s*\{(.*?)\}`)
	fieldRE      = regexp.MustCompile(`(?m)^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*")`)
)

func unquote(s string) string {
	v, err := strconv.Unquote(s)
	if err != nil {
		return strings.Trim(s, `"`)
	}
	return v
}

func parseConfig(text string) pipeline {
	p := pipeline{auditLabels: map[string]string{}, replacement: "<redacted>"}
	if m := urlRE.FindStringSubmatch(text); m != nil {
		p.pushURL = unquote(m[1])
	}
	p.podLogs = strings.Contains(text, `loki.source.file "pod_logs"`)
	if m := pathRE.FindStringSubmatch(text); m != nil {
		p.auditPath = unquote(m[1])
	}
	for _, m := range expressionRE.FindAllStringSubmatch(text, -1) {
		if re, err := regexp.Compile(m[1]); err == nil {
			p.redactions = append(p.redactions, re)
		}
	}
	if m := replaceRE.FindStringSubmatch(text); m != nil {
		p.replacement = unquote(m[1])
	}
	if m := jsonStageRE.FindStringSubmatch(text); m != nil {
		for _, f := range fieldRE.FindAllStringSubmatch(m[1], -1) {
			p.auditLabels[f[1]] = unquote(f[2])
		}
	}
	return p
}

// redact replaces every capture group of every expression's matches, as stage.replace does.
func (p pipeline) redact(line string) string {
	for _, re := range p.redactions {
		var b strings.Builder
		last := 0
		for _, loc := range re.FindAllStringSubmatchIndex(line, -1) {
			for g := 2; g+1 < len(loc); g += 2 {
				if loc[g] < 0 || loc[g] < last {
					continue
				}
				b.WriteString(line[last:loc[g]])
				b.WriteString(p.replacement)
				last = loc[g+1]
			}
		}
		b.WriteString(line[last:])
		line = b.String()
	}
	return line
}
