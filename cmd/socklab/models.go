package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
	fmt.Fprintln(tw, "MODEL\tNETWORKS\tPROTOCOLS\tCAPACITY\tDESCRIPTION")
	for _, m := range ms {
		desc := m.Summary
		if m.Note != "" {
			desc += "; " + m.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, strings.Join(m.Networks, ","),
			strings.Join(modelProtocols(m), ","), capacityText(m), desc)
	}
	return tw.Flush()
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
