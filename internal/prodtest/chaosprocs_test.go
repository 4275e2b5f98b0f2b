package prodtest

import (
	"syscall"
	"time"
)

// byName is the running process started under name, or nil.
func (p *procs) byName(name string) *proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.list {
		if pr.name == name {
			return pr
		}
	}
	return nil
}

// kill takes pr out of the topology (checkAlive no longer watches it),
// signals its process group with sig, and after grace kills the group.
// It returns pr's place in the start order, for restart.
func (p *procs) kill(pr *proc, sig syscall.Signal, grace time.Duration) int {
	p.mu.Lock()
	at := -1
	for i, q := range p.list {
		if q == pr {
			at = i
			p.list = append(p.list[:i:i], p.list[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	pr.stopped = true
	_ = syscall.Kill(-pr.cmd.Process.Pid, sig)
	select {
	case <-pr.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	<-pr.done
	return at
}

// restart starts old's command again (same program, arguments,
// environment and folder) under name, at old's place in the start order
// so that stopAll still stops the roles before PostgreSQL.
func (p *procs) restart(old *proc, at int, name string) *proc {
	// old.cmd.Env already holds baseEnv; exec keeps the last of duplicates.
	np := p.start(name, old.stopSig, old.cmd.Env, old.cmd.Dir, old.cmd.Path, old.cmd.Args[1:]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if at < 0 || at >= len(p.list) {
		return np
	}
	p.list = p.list[:len(p.list)-1]
	p.list = append(p.list[:at], append([]*proc{np}, p.list[at:]...)...)
	return np
}
