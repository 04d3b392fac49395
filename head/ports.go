package head

import (
	"fmt"
	"net"
)

// Ports are the ports a head listens on. All are chosen by us rather than
// left to Ray's defaults: the defaults (6379, 8265, 10001, 52365) collide as
// soon as two clusters share a host.
type Ports struct {
	GCS            int `json:"gcs"`
	Dashboard      int `json:"dashboard"`
	ClientServer   int `json:"client_server"`
	DashboardAgent int `json:"dashboard_agent"`
	AgentGRPC      int `json:"dashboard_agent_grpc"`
	RuntimeEnv     int `json:"runtime_env_agent"`
	Metrics        int `json:"metrics_export"`
}

// freePorts asks the kernel for n distinct free TCP ports. All listeners are
// held open until every port is chosen, so the n ports differ.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func pickPorts() (Ports, error) {
	p, err := freePorts(7)
	if err != nil {
		return Ports{}, err
	}
	return Ports{GCS: p[0], Dashboard: p[1], ClientServer: p[2], DashboardAgent: p[3], AgentGRPC: p[4], RuntimeEnv: p[5], Metrics: p[6]}, nil
}
