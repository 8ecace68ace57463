// Package standin holds what the lab's stand-in servers share: loose argument parsing, HTTP
// helpers and an in-cluster Kubernetes client. A stand-in answers the HTTP API the collection's
// checks call, nothing more; it is no replacement for the component it stands in for.
package standin

import (
	"log"
	"os"
	"strings"
)

// Args are a container's arguments read loosely: the charts pass the real component's flags,
// which a stand-in must accept (and mostly ignore) rather than exit on, as flag.Parse would.
type Args struct {
	Flags       map[string]string // "-x=v", "--x=v", "--x" (value "true"), by name without dashes
	Positionals []string
}

// ParseArgs reads argv after the program name. A flag takes its value only in the "=" form, since
// without knowing the real component's flags "--a b" cannot be told from "--a" plus a positional.
func ParseArgs(argv []string) Args {
	args := Args{Flags: map[string]string{}}
	for _, arg := range argv {
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			args.Positionals = append(args.Positionals, arg)
			continue
		}
		name, value, found := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !found {
			value = "true"
		}
		args.Flags[name] = value
	}
	return args
}

// Get is the value of flag name, or fallback when it was not given.
func (a Args) Get(name, fallback string) string {
	if v, ok := a.Flags[name]; ok {
		return v
	}
	return fallback
}

// Env is the environment variable name, or fallback when it is unset or empty.
func Env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// Logger writes to stdout, which the kubelet keeps as the container's log.
func Logger(name string) *log.Logger {
	return log.New(os.Stdout, name+" (lab stand-in) ", log.LstdFlags|log.LUTC)
}

// Start is how every stand-in begins: its logger and its arguments, read loosely.
func Start(name string) (*log.Logger, Args) {
	return Logger(name), ParseArgs(os.Args[1:])
}
