package head

import (
	"context"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/gcs"
	"github.com/auto-tune-vllm/auto-tune-vllm/internal/proc"
)

// Process is one Ray process in a doctor report.
type Process struct {
	PID     int       `json:"pid"`
	PPID    int       `json:"ppid"`
	PGID    int       `json:"pgid"`
	Role    string    `json:"role"`
	Ports   []int     `json:"ports,omitempty"`
	Started time.Time `json:"started"`
	Command string    `json:"command"`

	info *proc.Info
}

// Cluster is the Ray processes of one cluster (one session) on this host.
type Cluster struct {
	Session    string `json:"session"`
	SessionDir string `json:"session_dir,omitempty"`
	TempDir    string `json:"temp_dir,omitempty"`
	GCSAddress string `json:"gcs_address,omitempty"`
	GCSAnswers bool   `json:"gcs_answers"`
	GCSError   string `json:"gcs_error,omitempty"`
	RayVersion string `json:"ray_version,omitempty"`
	// Ours is set when auto-tune-vllm started this head (a state file names it).
	Ours       bool   `json:"ours"`
	HeadID     string `json:"head_id,omitempty"`
	OwnerPID   int    `json:"owner_pid,omitempty"`
	OwnerAlive bool   `json:"owner_alive"`
	// Orphaned: neither its GCS server nor its raylet runs any more.
	Orphaned  bool      `json:"orphaned"`
	Processes []Process `json:"processes"`
	Cleanup   string    `json:"cleanup_command"`

	state *State
}

// Report is what `ray doctor` shows.
type Report struct {
	Clusters []Cluster `json:"clusters"`
	// Orphans are Ray processes that belong to no cluster found here.
	Orphans []Process `json:"orphans"`
	// StaleRecords are state files of heads we started with no process left.
	StaleRecords []StaleRecord `json:"stale_records"`
	// PortNotes name leftovers that hold a port Ray uses by default.
	PortNotes []PortNote `json:"port_notes"`
}

// StaleRecord is a state file with no live process behind it.
type StaleRecord struct {
	HeadID     string `json:"head_id"`
	TempDir    string `json:"temp_dir"`
	OwnerPID   int    `json:"owner_pid"`
	OwnerAlive bool   `json:"owner_alive"`
	Cleanup    string `json:"cleanup_command"`
}

// DoctorOptions configure Doctor.
type DoctorOptions struct {
	StateDir     string
	Token        string
	ProbeTimeout time.Duration // per GCS probe (default 1 s)
	// Program is how cleanup commands name this tool (default "auto-tune-vllm").
	Program string
}

// Doctor finds every Ray process on this host, groups them by cluster, checks
// whether each cluster's GCS answers and whether we started it.
func Doctor(ctx context.Context, opts DoctorOptions) (*Report, error) {
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = time.Second
	}
	if opts.Program == "" {
		opts.Program = "auto-tune-vllm"
	}
	snap, err := proc.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	states, stateErr := ReadStates(opts.StateDir)
	// Without the socket table (unreadable /proc/net) the report still lists
	// every process, only without ports and port notes.
	ports, _ := proc.ListeningPorts(ctx)
	rep := assemble(snap, states, ports, opts.Program)
	probeAll(ctx, rep.Clusters, opts)
	return rep, stateErr
}

// assemble is Doctor without the GCS probes: the report of one snapshot of
// processes, state files and listening sockets.
func assemble(snap []*proc.Info, states []*State, ports map[int][]int, program string) *Report {
	clusters, orphans := group(snap)
	rep := &Report{Clusters: []Cluster{}, Orphans: orphans, StaleRecords: []StaleRecord{}}
	if rep.Orphans == nil {
		rep.Orphans = []Process{}
	}
	for _, c := range clusters {
		for i := range c.Processes {
			c.Processes[i].Ports = ports[c.Processes[i].PID]
		}
		rep.Clusters = append(rep.Clusters, *c)
	}
	for i := range rep.Orphans {
		rep.Orphans[i].Ports = ports[rep.Orphans[i].PID]
	}
	matched := map[string]bool{}
	for i := range rep.Clusters {
		c := &rep.Clusters[i]
		for _, st := range states {
			if (st.TempDir != "" && st.TempDir == c.TempDir) || (st.SessionDir != "" && st.SessionDir == c.SessionDir) {
				c.Ours, c.HeadID, c.OwnerPID, c.OwnerAlive, c.state = true, st.ID, st.OwnerPID, st.OwnerAlive(), st
				matched[st.ID] = true
			}
		}
		c.Cleanup = program + " ray cleanup --session " + c.key()
	}
	for _, st := range states {
		if !matched[st.ID] {
			rep.StaleRecords = append(rep.StaleRecords, StaleRecord{
				HeadID: st.ID, TempDir: st.TempDir, OwnerPID: st.OwnerPID, OwnerAlive: st.OwnerAlive(),
				Cleanup: program + " ray cleanup --session " + st.ID,
			})
		}
	}
	rep.PortNotes = portNotes(rep, program)
	return rep
}

// key is the name `ray cleanup --session` takes for this cluster.
func (c *Cluster) key() string {
	switch {
	case c.Session != "":
		return c.Session
	case c.HeadID != "":
		return c.HeadID
	}
	return c.TempDir
}

func probeAll(ctx context.Context, clusters []Cluster, opts DoctorOptions) {
	var wg sync.WaitGroup
	for i := range clusters {
		c := &clusters[i]
		if c.GCSAddress == "" {
			c.GCSError = "no GCS address known"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := gcs.Dial(ctx, c.GCSAddress, gcs.Options{Token: opts.Token, ProbeTimeout: opts.ProbeTimeout})
			if err != nil {
				c.GCSError = err.Error()
				return
			}
			defer cl.Close()
			c.GCSAnswers = true
			c.RayVersion, _ = cl.RayVersion(ctx)
		}()
	}
	wg.Wait()
}

// group sorts Ray processes into clusters. A process belongs to the session
// its command line names; failing that, to the cluster of its nearest Ray
// ancestor, of the node ID or raylet PID in its environment, or (for
// `ray start`) of the session named after its PID.
func group(snap []*proc.Info) ([]*Cluster, []Process) {
	byPID := map[int]*proc.Info{}
	for _, p := range snap {
		byPID[p.PID] = p
	}
	roles := map[int]string{}
	for _, p := range snap {
		if p.Zombie {
			continue
		}
		if r := classify(p); r != "" {
			roles[p.PID] = r
		}
	}
	// Descendants of Ray processes, and processes carrying a Ray node's
	// environment, belong to Ray too.
	for _, p := range snap {
		if p.Zombie || roles[p.PID] != "" {
			continue
		}
		if rayAncestor(p, byPID, roles) != nil {
			roles[p.PID] = RoleChild
		} else if p.Env("RAY_NODE_ID") != "" || p.Env("RAY_RAYLET_PID") != "" {
			roles[p.PID] = RoleEnv
		}
	}
	at := map[int]attrs{}
	sessionOfNode := map[string]string{}
	sessionOfRaylet := map[int]string{}
	sessions := map[string]*Cluster{}
	for pid, role := range roles {
		a := attrsOf(byPID[pid], role)
		at[pid] = a
		if a.sessionDir == "" {
			continue
		}
		if role == RoleRaylet {
			sessionOfRaylet[pid] = a.sessionDir
		}
		if a.nodeID != "" {
			sessionOfNode[a.nodeID] = a.sessionDir
		}
		if sessions[a.sessionDir] == nil {
			sessions[a.sessionDir] = &Cluster{SessionDir: a.sessionDir, Session: filepath.Base(a.sessionDir), TempDir: a.tempDir}
		}
	}
	sessionOf := func(pid int) string {
		a := at[pid]
		if a.sessionDir != "" {
			return a.sessionDir
		}
		if a.role == RoleRayStart {
			for dir := range sessions {
				if strings.HasSuffix(dir, "_"+strconv.Itoa(pid)) {
					return dir
				}
			}
		}
		if s := sessionOfNode[a.nodeID]; a.nodeID != "" && s != "" {
			return s
		}
		if s := sessionOfRaylet[a.rayletPID]; a.rayletPID != 0 && s != "" {
			return s
		}
		return ""
	}
	resolved := map[int]string{}
	var resolve func(pid int, depth int) string
	resolve = func(pid int, depth int) string {
		if s, ok := resolved[pid]; ok {
			return s
		}
		s := sessionOf(pid)
		if s == "" && depth < 64 {
			if parent := byPID[byPID[pid].PPID]; parent != nil && roles[parent.PID] != "" {
				s = resolve(parent.PID, depth+1)
			}
		}
		resolved[pid] = s
		return s
	}
	var orphans []Process
	for pid, role := range roles {
		p := byPID[pid]
		entry := Process{PID: pid, PPID: p.PPID, PGID: p.PGID, Role: role, Started: p.StartTime, Command: short(p.CommandLine()), info: p}
		s := resolve(pid, 0)
		c := sessions[s]
		if c == nil {
			orphans = append(orphans, entry)
			continue
		}
		c.Processes = append(c.Processes, entry)
		if a := at[pid]; c.GCSAddress == "" || (a.gcsAddress != "" && role != RoleGCS) {
			if a.gcsAddress != "" {
				c.GCSAddress = a.gcsAddress
			}
		}
		if a := at[pid]; role == RoleRayStart && a.tempDir != "" {
			c.TempDir = a.tempDir
		}
	}
	var out []*Cluster
	for _, c := range sessions {
		if len(c.Processes) == 0 {
			continue
		}
		c.Orphaned = true
		for _, p := range c.Processes {
			if p.Role == RoleGCS || p.Role == RoleRaylet {
				c.Orphaned = false
			}
		}
		sortProcs(c.Processes)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SessionDir < out[j].SessionDir })
	sortProcs(orphans)
	return out, orphans
}

func rayAncestor(p *proc.Info, byPID map[int]*proc.Info, roles map[int]string) *proc.Info {
	for depth, cur := 0, byPID[p.PPID]; cur != nil && depth < 64; depth, cur = depth+1, byPID[cur.PPID] {
		if r := roles[cur.PID]; r != "" && r != RoleChild {
			return cur
		}
		if cur.PID <= 1 {
			break
		}
	}
	return nil
}

func sortProcs(ps []Process) { sort.Slice(ps, func(i, j int) bool { return ps[i].PID < ps[j].PID }) }

func short(s string) string {
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}
