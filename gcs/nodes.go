package gcs

import (
	"context"
	"encoding/hex"
	"errors"
	"sort"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/ray/rpcpb"
)

// Node is one Ray node as the GCS knows it.
type Node struct {
	ID         string            `json:"id"`
	Address    string            `json:"address"`
	Hostname   string            `json:"hostname,omitempty"`
	Name       string            `json:"name,omitempty"`
	Alive      bool              `json:"alive"`
	Head       bool              `json:"head"`
	Started    time.Time         `json:"started,omitzero"`
	Ended      time.Time         `json:"ended,omitzero"`
	Labels     map[string]string `json:"labels,omitempty"`
	TempDir    string            `json:"temp_dir,omitempty"`
	SessionDir string            `json:"session_dir,omitempty"`
	// Total and Available are in Ray's units: CPU and GPU counts, memory and
	// object_store_memory in bytes, node:<ip> markers, custom resources.
	Total     map[string]float64 `json:"total"`
	Available map[string]float64 `json:"available,omitempty"`
}

// Nodes lists every node the GCS knows, alive and dead, head first. The
// request is sent empty and filtered here: its fields were renumbered between
// Ray versions, and a filter meant for one version reads as "limit 0" in another.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	reply, err := c.nodes.GetAllNodeInfo(ctx, &rpcpb.GetAllNodeInfoRequest{})
	if err := c.check("GetAllNodeInfo", reply.GetStatus(), err); err != nil {
		return nil, err
	}
	nodes := make([]Node, 0, len(reply.GetNodeInfoList()))
	for _, n := range reply.GetNodeInfoList() {
		node := Node{
			ID:         hex.EncodeToString(n.GetNodeId()),
			Address:    n.GetNodeManagerAddress(),
			Hostname:   n.GetNodeManagerHostname(),
			Name:       n.GetNodeName(),
			Alive:      n.GetState() == rpcpb.GcsNodeInfo_ALIVE,
			Head:       n.GetIsHeadNode(),
			Labels:     n.GetLabels(),
			TempDir:    n.GetTempDir(),
			SessionDir: n.GetSessionDir(),
			Total:      n.GetResourcesTotal(),
		}
		if ms := n.GetStartTimeMs(); ms > 0 {
			node.Started = time.UnixMilli(int64(ms)).UTC()
		}
		if ms := n.GetEndTimeMs(); ms > 0 {
			node.Ended = time.UnixMilli(int64(ms)).UTC()
		}
		nodes = append(nodes, node)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].Alive != nodes[j].Alive {
			return nodes[i].Alive
		}
		if nodes[i].Head != nodes[j].Head {
			return nodes[i].Head
		}
		return nodes[i].Address < nodes[j].Address
	})
	return nodes, nil
}

// NodeResources are one node's total and available resources.
type NodeResources struct {
	Total     map[string]float64
	Available map[string]float64
}

// Resources returns total and available resources by node ID (alive nodes).
// On Ray older than 2.31, which lacks GetAllTotalResources, totals come from
// the node table instead.
func (c *Client) Resources(ctx context.Context) (map[string]NodeResources, error) {
	out := map[string]NodeResources{}
	avail, err := c.resources.GetAllAvailableResources(ctx, &rpcpb.GetAllAvailableResourcesRequest{})
	if err := c.check("GetAllAvailableResources", avail.GetStatus(), err); err != nil {
		return nil, err
	}
	for _, r := range avail.GetResourcesList() {
		id := hex.EncodeToString(r.GetNodeId())
		out[id] = NodeResources{Available: r.GetResourcesAvailable()}
	}
	total, err := c.resources.GetAllTotalResources(ctx, &rpcpb.GetAllTotalResourcesRequest{})
	err = c.check("GetAllTotalResources", total.GetStatus(), err)
	switch {
	case err == nil:
		for _, r := range total.GetResourcesList() {
			id := hex.EncodeToString(r.GetNodeId())
			nr := out[id]
			nr.Total = r.GetResourcesTotal()
			out[id] = nr
		}
	case errors.Is(err, ErrUnimplemented):
		nodes, err := c.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if nr, ok := out[n.ID]; ok {
				nr.Total = n.Total
				out[n.ID] = nr
			}
		}
	default:
		return nil, err
	}
	return out, nil
}

// Cluster is a snapshot of a cluster: what `auto-tune-vllm ray status` shows.
type Cluster struct {
	Address    string             `json:"address"`
	ClusterID  string             `json:"cluster_id"`
	RayVersion string             `json:"ray_version"`
	Dashboard  string             `json:"dashboard_url,omitempty"`
	Nodes      []Node             `json:"nodes"`
	Total      map[string]float64 `json:"total"`
	Available  map[string]float64 `json:"available"`
}

// AliveNodes counts the nodes that are alive.
func (cl *Cluster) AliveNodes() int {
	n := 0
	for _, node := range cl.Nodes {
		if node.Alive {
			n++
		}
	}
	return n
}

// Describe reads version, nodes, resources and dashboard address. The
// dashboard is optional (a cluster may run without one).
func (c *Client) Describe(ctx context.Context) (*Cluster, error) {
	cl := &Cluster{Address: c.addr, ClusterID: c.ClusterID(), Total: map[string]float64{}, Available: map[string]float64{}}
	var err error
	if cl.RayVersion, err = c.RayVersion(ctx); err != nil {
		return nil, err
	}
	if cl.Nodes, err = c.Nodes(ctx); err != nil {
		return nil, err
	}
	res, err := c.Resources(ctx)
	if err != nil {
		return nil, err
	}
	for i := range cl.Nodes {
		n := &cl.Nodes[i]
		if r, ok := res[n.ID]; ok {
			if r.Total != nil {
				n.Total = r.Total
			}
			n.Available = r.Available
		}
		if !n.Alive {
			continue
		}
		for k, v := range n.Total {
			cl.Total[k] += v
		}
		for k, v := range n.Available {
			cl.Available[k] += v
		}
	}
	if url, err := c.DashboardURL(ctx); err == nil {
		cl.Dashboard = url
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return cl, nil
}
