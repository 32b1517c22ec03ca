package loadgen

import (
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"
)

// TestAlarmNeverWakesEarly: a sleep lasts at least what was asked, over
// lengths below, at and above the runtime's millisecond.
func TestAlarmNeverWakesEarly(t *testing.T) {
	a, err := newAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		d := time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
		start := time.Now()
		if !a.sleep(d) {
			t.Fatalf("sleep %d (%v) reported an interrupt", i, d)
		}
		if got := time.Since(start); got < d {
			t.Fatalf("sleep %d of %v woke after %v", i, d, got)
		}
	}
}

// TestAlarmInterrupt: an interrupt ends a sleep in progress and every later
// one.
func TestAlarmInterrupt(t *testing.T) {
	a, err := newAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	done := make(chan bool)
	go func() { done <- a.sleep(time.Hour) }()
	// The interrupt may come before the sleep begins or during it: either
	// way the sleep must end.
	a.interrupt()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("an interrupted sleep reported that it slept")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an interrupt did not end a sleep of an hour")
	}
	if a.sleep(time.Hour) {
		t.Fatal("a sleep after the interrupt slept")
	}
}

// TestAlarmLeavesReadDeadlineAlone: arming the alarm for a read deadline
// ends the read at the deadline with a timeout, and a sleep after it is not
// cut short by that expiry.
func TestAlarmLeavesReadDeadlineAlone(t *testing.T) {
	a, err := newAlarm()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	dl := time.Now().Add(2 * time.Millisecond)
	a.wakeAt(dl)
	c1.SetReadDeadline(dl)
	if _, err := c1.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	start := time.Now()
	if !a.sleep(5 * time.Millisecond) {
		t.Fatal("sleep reported an interrupt")
	}
	if got := time.Since(start); got < 5*time.Millisecond {
		t.Fatalf("a sleep of 5ms after an expired read deadline woke after %v", got)
	}
}

// BenchmarkWakeLateness compares how late a sleep of 1 to 3 ms wakes on the
// alarm and on a runtime timer; it reports the median and the 99th
// percentile of the lateness. Run it on an idle machine, where the
// runtime's millisecond poll timeout shows:
//
//	go test -run '^$' -bench WakeLateness -benchtime 500x ./loadgen
func BenchmarkWakeLateness(b *testing.B) {
	sleepers := map[string]func(time.Duration){
		"timer": func(d time.Duration) { time.Sleep(d) },
	}
	a, err := newAlarm()
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	sleepers["alarm"] = func(d time.Duration) { a.sleep(d) }
	for _, name := range []string{"alarm", "timer"} {
		sleep := sleepers[name]
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			late := make([]time.Duration, 0, b.N)
			for b.Loop() {
				d := time.Millisecond + time.Duration(rng.Int64N(int64(2*time.Millisecond)))
				start := time.Now()
				sleep(d)
				late = append(late, time.Since(start)-d)
			}
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-late-µs")
			b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-late-µs")
		})
	}
}
