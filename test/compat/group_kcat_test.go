package compat

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startKcatMember starts `kcat -G`, librdkafka's balanced consumer, as a
// member. kcat auto-commits what it printed (librdkafka stores an offset
// when it hands the message over and commits stored offsets every
// auto.commit.interval.ms, and on close), so the test cannot know which
// commits were acknowledged: kcat members only lose partitions once the
// broker's committed offsets cover everything they printed. -u makes kcat's
// output unbuffered, so what a killed kcat printed reaches the test. kcat
// reports its assignment on stderr ("% Group ... rebalanced (memberid ...):
// assigned: topic [0], ..." and "revoked: ..."). SIGTERM makes it close the
// consumer: a final commit and LeaveGroup.
func startKcatMember(t *testing.T, e *groupEnv, gc groupClient, name string) *member {
	t.Helper()
	args := []string{
		"-b", e.addr,
		"-G", e.group,
		"-u",
		"-f", `%p %o %s\n`,
		"-X", "client.id=" + name,
		"-X", "auto.offset.reset=earliest",
		"-X", "session.timeout.ms=" + strconv.Itoa(int(groupSessionTimeout/time.Millisecond)),
		"-X", "heartbeat.interval.ms=" + strconv.Itoa(int(groupHeartbeatInterval/time.Millisecond)),
		"-X", "max.poll.interval.ms=" + strconv.Itoa(int(groupRebalanceTimeout/time.Millisecond)),
		"-X", "auto.commit.interval.ms=200",
		"-X", "fetch.wait.max.ms=200",
	}
	if gc.Strategy != "" {
		args = append(args, "-X", "partition.assignment.strategy="+gc.Strategy)
	}
	args = append(args, e.topic)
	cmd := exec.Command(kcatBinary(t), args...)
	m := &member{name: name, cmd: cmd, tail: new(tailBuffer)}
	m.leave = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	// stdout carries the records, stderr the assignment.
	m.start(t, func(line string) {
		var (
			p     int32
			o     int64
			value string
		)
		if _, err := fmt.Sscanf(line, "%d %d %s", &p, &o, &value); err != nil {
			m.tail.add("stdout: " + line)
			e.log.fail(name, fmt.Sprintf("unparsable kcat output %q: %v", line, err))
			return
		}
		e.log.deliver(name, p, o, value)
	}, func(line string) {
		m.tail.add(line)
		if add, remove, ok := parseKcatRebalance(line, e.topic); ok {
			e.log.assign(name, add, remove, false)
		}
	})
	return m
}

// parseKcatRebalance parses kcat's rebalance line
//
//	% Group g rebalanced (memberid m-1): assigned: topic [0], topic [3]
//	% Group g rebalanced (memberid m-1): revoked: topic [0], topic [3]
//
// into partitions of topic added or removed.
func parseKcatRebalance(line, topic string) (add, remove []int32, ok bool) {
	if !strings.HasPrefix(line, "% Group ") {
		return nil, nil, false
	}
	var list string
	var assigned bool
	if _, after, found := strings.Cut(line, "): assigned: "); found {
		list, assigned = after, true
	} else if _, after, found := strings.Cut(line, "): revoked: "); found {
		list = after
	} else {
		return nil, nil, false
	}
	var ps []int32
	for _, item := range strings.Split(list, ", ") {
		tp, part, found := strings.Cut(strings.TrimSpace(item), " [")
		if !found || tp != topic {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(part, "]"))
		if err != nil {
			continue
		}
		ps = append(ps, int32(n))
	}
	if assigned {
		return ps, nil, true
	}
	return nil, ps, true
}
