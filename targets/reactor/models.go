package reactor

import "github.com/socklab/socklab/targets"

func model(name, summary, note string) targets.Model {
	return targets.Model{
		Name:     name,
		Summary:  summary,
		Networks: []string{targets.TCP, targets.Unix, targets.UDP, targets.Unixgram},
		Capacity: func(targets.Config) int { return 0 },
		Note:     note,
		Start: func(cfg targets.Config) (targets.Server, error) {
			s, err := Start(cfg, Options{Model: name, Poller: name})
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	}
}

// The three models of one reactor.
var (
	SelectModel = model("select", "a single-threaded reactor over select(2)",
		"descriptors ≥ 1024 (FD_SETSIZE) cannot be watched: such connections are closed at once and counted")
	PollModel  = model("poll", "the same reactor over poll(2)", "")
	EpollModel = model("epoll", "the same reactor over epoll(7), level-triggered", "Linux only")
)
