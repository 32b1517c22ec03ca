package reports

import (
	"fmt"

	"github.com/socklab/socklab/loadgen"
)

// connRow is one scenario's connection figures, for a group whose scenarios
// open short connections (--reconnect, --connect-rate): the connects asked
// for and made per second, the connect time and the time to the first byte,
// from when each connection was due and from its connect.
type connRow struct {
	Model, Requested, Achieved           string
	ConnectP50, ConnectP99               string
	FirstByteP50, FirstByteP99, FromCP99 string
}

// connHeader names connRow's columns, in order.
var connHeader = []string{"model", "connects requested", "connects made", "connect p50", "connect p99",
	"first byte p50 (from due)", "first byte p99 (from due)", "first byte p99 (from connect)"}

func (c connRow) cells() []string {
	return []string{c.Model, c.Requested, c.Achieved, c.ConnectP50, c.ConnectP99, c.FirstByteP50, c.FirstByteP99, c.FromCP99}
}

// connRows returns the connection figures of g's scenarios that open short
// connections, or nil if none does.
func connRows(g []Scenario) []connRow {
	var rows []connRow
	for _, s := range g {
		m := s.Summary
		if !m.Reconnect {
			continue
		}
		opt := func(l *loadgen.Latency, p func(loadgen.Latency) float64) string {
			if l == nil {
				return "-"
			}
			return latencyCell(*l, p(*l))
		}
		p50 := func(l loadgen.Latency) float64 { return l.P50Us }
		p99 := func(l loadgen.Latency) float64 { return l.P99Us }
		req := "closed"
		if m.ConnectRate > 0 {
			req = fmt.Sprintf("%g/s", m.ConnectRate)
		}
		rows = append(rows, connRow{
			Model: s.Model, Requested: req, Achieved: fmt.Sprintf("%.0f/s", m.AchievedConnectRate),
			ConnectP50: opt(m.Connect, p50), ConnectP99: opt(m.Connect, p99),
			FirstByteP50: opt(m.FirstByte, p50), FirstByteP99: opt(m.FirstByte, p99),
			FromCP99: opt(m.FirstByteUncorrected, p99),
		})
	}
	return rows
}

// perConnText says how many requests each of g's short connections
// carried: "request", or "N requests".
func perConnText(g []Scenario) string {
	n := 1
	for _, s := range g {
		n = max(n, s.Summary.RequestsPerConn)
	}
	if n == 1 {
		return "request"
	}
	return fmt.Sprintf("%d requests", n)
}
