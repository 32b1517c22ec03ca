package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/socklab/socklab/protocol"
	"github.com/socklab/socklab/targets"
	"github.com/socklab/socklab/targets/registry"
)

func init() {
	register(command{
		name:    "models",
		summary: "list the models, their networks, protocols and capacity",
		run:     models,
	})
}

func models(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", "", "socklab models", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	return writeModels(stdout, registry.Models())
}

// writeModels prints one row per model, in registry order.
func writeModels(w io.Writer, ms []targets.Model) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tNETWORKS\tPROTOCOLS\tCAPACITY\tTIMEOUTS\tDESCRIPTION")
	for _, m := range ms {
		desc := m.Summary
		if m.Note != "" {
			desc += "; " + m.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, strings.Join(m.Networks, ","),
			strings.Join(modelProtocols(m), ","), capacityText(m), timeoutsText(m), desc)
	}
	return tw.Flush()
}

// timeoutsText states the timeouts every stream model keeps by default: a
// request's, from its first byte to its end, and idleness'.
func timeoutsText(m targets.Model) string {
	if protocol.IsDatagram(m.Networks[0]) {
		return "-"
	}
	o := targets.Config{}.ConnOptions()
	return fmt.Sprintf("request %s, idle %s", seconds(o.RequestTimeout), seconds(o.IdleTimeout))
}

// seconds writes d as whole seconds where it is ("60s", not "1m0s").
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// limitsNote is what a report says of the reference models' limits, beside
// their capacities: the timeouts they keep, and where each model's caps
// are listed.
func limitsNote() string {
	o := targets.Config{}.ConnOptions()
	return fmt.Sprintf("Every reference model closes a connection whose request has not arrived whole %s after its first byte, "+
		"or on which no byte moved for %s while no request was arriving (socklab serve --request-timeout, --idle-timeout); "+
		"socklab models lists each model's capacity, timeouts and caps.", seconds(o.RequestTimeout), seconds(o.IdleTimeout))
}

// modelProtocols returns the protocols m serves over any of its networks.
func modelProtocols(m targets.Model) []string {
	seen := map[string]bool{}
	var names []string
	for _, n := range m.Networks {
		for _, p := range protocolsFor(n) {
			if !seen[p] {
				seen[p] = true
				names = append(names, p)
			}
		}
	}
	return names
}

// capacityText says how many connections m serves at once by default and
// which flag changes it: a capacity that follows Config.Workers is the
// worker count, one that follows Config.MaxConns is a cap.
func capacityText(m targets.Model) string {
	if m.Capacity == nil {
		return "unbounded"
	}
	cfg := targets.Config{Network: m.Networks[0]}
	c := m.Capacity(cfg)
	probe := func(set func(*targets.Config)) bool {
		p := cfg
		set(&p)
		return m.Capacity(p) != c
	}
	switch {
	case protocol.IsDatagram(cfg.Network):
		return "-"
	case c == 0:
		return "unbounded"
	case probe(func(p *targets.Config) { p.Workers = c + 1 }):
		return fmt.Sprintf("workers (%d)", c)
	case probe(func(p *targets.Config) { p.MaxConns = c + 1 }):
		return fmt.Sprintf("cap %d (--max-conns)", c)
	}
	return fmt.Sprint(c)
}
