package catalog

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// State is how a behaviour ended.
type State string

// States of a Result.
const (
	Passed  State = "pass"
	Failed  State = "FAIL"
	Skipped State = "skipped"
)

// Note is a fact a behaviour recorded (T.Note).
type Note struct {
	Name, Value string
}

// Result is the outcome of one behaviour against one target.
type Result struct {
	Behaviour Behaviour
	State     State
	// Message is the failure's expected/actual/usual-cause text, or the
	// reason of a skip.
	Message string
	Notes   []Note
	Start   time.Time
	End     time.Time
}

// Check runs, against tg, every behaviour of the catalogue that keep
// selects (nil: all), one at a time in catalogue order, and returns their
// results; done, if not nil, is told of each as it ends. Each behaviour runs
// on a goroutine of its own, which T.Fatalf and T.Skipf end, as
// testing.T's do.
func Check(tg *Target, keep func(Behaviour) bool, done func(Result)) []Result {
	var results []Result
	for _, b := range behaviours {
		if keep != nil && !keep(b) {
			continue
		}
		r := runOne(b, tg)
		if done != nil {
			done(r)
		}
		results = append(results, r)
	}
	return results
}

// runOne runs b against tg with a recorder for its T.
func runOne(b Behaviour, tg *Target) Result {
	rec := &recorder{res: Result{Behaviour: b, State: Passed, Start: time.Now()}}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer func() {
			if p := recover(); p != nil {
				rec.end(Failed, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		b.Run(rec, tg)
	}()
	<-finished
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.res.End = time.Now()
	return rec.res
}

// recorder is socklab check's T: the first failure or skip decides the
// state, and ends the goroutine that reported it.
type recorder struct {
	mu    sync.Mutex
	res   Result
	ended bool
}

func (r *recorder) end(s State, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.ended = true
	r.res.State, r.res.Message = s, msg
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.end(Failed, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.end(Skipped, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Note(name, value string) {
	r.mu.Lock()
	r.res.Notes = append(r.res.Notes, Note{name, value})
	r.mu.Unlock()
}

// NonStrict returns the should-level checks that a passed behaviour
// missed, one message each.
func (r Result) NonStrict() []string {
	var msgs []string
	for _, n := range r.Notes {
		if n.Name == NonStrict {
			msgs = append(msgs, n.Value)
		}
	}
	return msgs
}

// Verdict is the result as the table shows it: pass, pass (non-strict),
// FAIL or skipped, and the reason of all but a strict pass.
func (r Result) Verdict() (state, reason string) {
	if ns := r.NonStrict(); r.State == Passed && len(ns) > 0 {
		return "pass (non-strict)", strings.Join(ns, "; ")
	}
	return string(r.State), r.Message
}

// FailedIDs returns the ids of the behaviours that failed, in run order.
func FailedIDs(results []Result) []string {
	var ids []string
	for _, r := range results {
		if r.State == Failed {
			ids = append(ids, r.Behaviour.ID)
		}
	}
	return ids
}

// WriteTable writes the end-of-run table: one row per behaviour, in
// catalogue order, with its result and the reason of a failure or skip on
// one line, under headline.
func WriteTable(w io.Writer, headline string, results []Result) error {
	rs := slices.Clone(results)
	slices.SortStableFunc(rs, func(a, b Result) int { return index(a.Behaviour.ID) - index(b.Behaviour.ID) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\n%s\n\n", headline)
	fmt.Fprintln(tw, "BEHAVIOUR\tRESULT\tREASON")
	for _, r := range rs {
		state, reason := r.Verdict()
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Behaviour.ID, state, oneLine(reason))
	}
	return tw.Flush()
}

// index is the position of id in the catalogue, or len if unknown.
func index(id string) int {
	for i, b := range behaviours {
		if b.ID == id {
			return i
		}
	}
	return len(behaviours)
}

// oneLine is a failure or skip message on one line, shortened.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
