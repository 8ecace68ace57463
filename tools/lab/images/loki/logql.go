package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// matcher is one label matcher of a stream selector: name op value, op one of = != =~ !~.
type matcher struct {
	name, op, value string
	re              *regexp.Regexp
}

// filter is one line filter of a log query: |= != |~ !~ and a string.
type filter struct {
	op, value string
	re        *regexp.Regexp
}

type query struct {
	matchers []matcher
	filters  []filter
}

// matcherRE and filterRE take the LogQL subset the checks send: a selector of label matchers and
// line filters after it. Parsers, formatters and metric queries are refused, not misread.
var (
	matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|` + "`[^`]*`" + `)\s*(,|$)`)
	filterRE  = regexp.MustCompile(`^\s*(\|=|!=|\|~|!~)\s*("(?:[^"\\]|\\.)*"|` + "`[^`]*`" + `)`)
)

func unquote(s string) (string, error) {
	if strings.HasPrefix(s, "`") {
		return strings.Trim(s, "`"), nil
	}
	return strconv.Unquote(s)
}

// operand reads the quoted value of a matcher or filter, and compiles it when op is a regexp one
// (a label matcher's regexp is anchored, a line filter's is not, as in LogQL).
func operand(op, quoted string, anchored bool) (string, *regexp.Regexp, error) {
	value, err := unquote(quoted)
	if err != nil || !strings.Contains(op, "~") {
		return value, nil, err
	}
	pattern := value
	if anchored {
		pattern = "^(?:" + value + ")$"
	}
	re, err := regexp.Compile(pattern)
	return value, re, err
}

func parseQuery(text string) (query, error) {
	var q query
	text = strings.TrimSpace(text)
	end := strings.LastIndex(text, "}")
	if !strings.HasPrefix(text, "{") || end < 0 {
		return q, fmt.Errorf("parse error: %q is not a stream selector", text)
	}
	selector, rest := text[1:end], text[end+1:]
	err := each(matcherRE, selector, "label matchers", func(m []string) error {
		value, re, err := operand(m[2], m[3], true)
		q.matchers = append(q.matchers, matcher{name: m[1], op: m[2], value: value, re: re})
		return err
	})
	if err != nil {
		return q, err
	}
	err = each(filterRE, rest, "line filters", func(m []string) error {
		value, re, err := operand(m[1], m[2], false)
		q.filters = append(q.filters, filter{op: m[1], value: value, re: re})
		return err
	})
	return q, err
}

// each calls fn with every match of re, front to back, that text consists of.
func each(re *regexp.Regexp, text, what string, fn func(m []string) error) error {
	for strings.TrimSpace(text) != "" {
		m := re.FindStringSubmatch(text)
		if m == nil {
			return fmt.Errorf("parse error: the lab stand-in reads %s only, not %q", what, text)
		}
		if err := fn(m); err != nil {
			return err
		}
		text = text[len(m[0]):]
	}
	return nil
}

func (m matcher) matches(labels map[string]string) bool {
	v := labels[m.name]
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

func (q query) selects(labels map[string]string) bool {
	for _, m := range q.matchers {
		if !m.matches(labels) {
			return false
		}
	}
	return true
}

func (q query) keeps(line string) bool {
	for _, f := range q.filters {
		var hit bool
		if f.re != nil {
			hit = f.re.MatchString(line)
		} else {
			hit = strings.Contains(line, f.value)
		}
		if hit != strings.HasPrefix(f.op, "|") {
			return false
		}
	}
	return true
}
