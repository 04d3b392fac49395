package gcs

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/ray/rpcpb"
)

// fakeGCS is an in-process stand-in for the GCS, for what real Ray cannot be
// made to do on demand (old versions, odd statuses). Behaviour against real
// Ray is covered by the integration tests.
type fakeGCS struct {
	rpcpb.UnimplementedNodeInfoGcsServiceServer
	rpcpb.UnimplementedNodeResourceInfoGcsServiceServer
	rpcpb.UnimplementedInternalKVGcsServiceServer

	clusterID []byte
	token     string
	noTotals  bool // behave like Ray < 2.31

	mu sync.Mutex
	md map[string]metadata.MD // last metadata per method
}

func (f *fakeGCS) record(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.md[method] = md
	f.mu.Unlock()
	if f.token != "" {
		if a := md.Get("authorization"); len(a) != 1 || a[0] != "Bearer "+f.token {
			return status.Error(codes.Unauthenticated, "InvalidAuthToken: missing or invalid token")
		}
	}
	if method != "GetClusterId" {
		if ids := md.Get("ray_cluster_id"); len(ids) == 1 && ids[0] != hex.EncodeToString(f.clusterID) {
			return status.Error(codes.Aborted, "AuthError: WrongClusterID")
		}
	}
	return nil
}

func (f *fakeGCS) GetClusterId(ctx context.Context, _ *rpcpb.GetClusterIdRequest) (*rpcpb.GetClusterIdReply, error) {
	if err := f.record(ctx, "GetClusterId"); err != nil {
		return nil, err
	}
	return &rpcpb.GetClusterIdReply{ClusterId: f.clusterID}, nil
}

func (f *fakeGCS) CheckAlive(ctx context.Context, _ *rpcpb.CheckAliveRequest) (*rpcpb.CheckAliveReply, error) {
	if err := f.record(ctx, "CheckAlive"); err != nil {
		return nil, err
	}
	return &rpcpb.CheckAliveReply{RayVersion: "2.30.0"}, nil
}

func (f *fakeGCS) GetAllNodeInfo(ctx context.Context, _ *rpcpb.GetAllNodeInfoRequest) (*rpcpb.GetAllNodeInfoReply, error) {
	if err := f.record(ctx, "GetAllNodeInfo"); err != nil {
		return nil, err
	}
	return &rpcpb.GetAllNodeInfoReply{NodeInfoList: []*rpcpb.GcsNodeInfo{
		{NodeId: []byte{2}, NodeManagerAddress: "10.0.0.2", State: rpcpb.GcsNodeInfo_DEAD, ResourcesTotal: map[string]float64{"CPU": 8, "GPU": 2}},
		{NodeId: []byte{1}, NodeManagerAddress: "10.0.0.1", IsHeadNode: true, StartTimeMs: 1_700_000_000_000, ResourcesTotal: map[string]float64{"CPU": 4, "GPU": 1}},
	}}, nil
}

func (f *fakeGCS) GetAllAvailableResources(ctx context.Context, _ *rpcpb.GetAllAvailableResourcesRequest) (*rpcpb.GetAllAvailableResourcesReply, error) {
	f.record(ctx, "GetAllAvailableResources")
	return &rpcpb.GetAllAvailableResourcesReply{ResourcesList: []*rpcpb.AvailableResources{
		{NodeId: []byte{1}, ResourcesAvailable: map[string]float64{"CPU": 3, "GPU": 0.5}},
	}}, nil
}

func (f *fakeGCS) GetAllTotalResources(ctx context.Context, r *rpcpb.GetAllTotalResourcesRequest) (*rpcpb.GetAllTotalResourcesReply, error) {
	if f.noTotals {
		return nil, status.Error(codes.Unimplemented, "unknown method")
	}
	f.record(ctx, "GetAllTotalResources")
	return &rpcpb.GetAllTotalResourcesReply{ResourcesList: []*rpcpb.TotalResources{
		{NodeId: []byte{1}, ResourcesTotal: map[string]float64{"CPU": 4, "GPU": 1}},
	}}, nil
}

func (f *fakeGCS) InternalKVGet(ctx context.Context, r *rpcpb.InternalKVGetRequest) (*rpcpb.InternalKVGetReply, error) {
	f.record(ctx, "InternalKVGet")
	if string(r.Namespace) == "dashboard" && string(r.Key) == "dashboard" {
		return &rpcpb.InternalKVGetReply{Value: []byte("10.0.0.1:8265")}, nil
	}
	return &rpcpb.InternalKVGetReply{Status: &rpcpb.GcsStatus{Code: 17, Message: "Failed to find the key"}}, nil
}

func startFake(t *testing.T, f *fakeGCS) string {
	t.Helper()
	if f.clusterID == nil {
		f.clusterID = []byte(strings.Repeat("\xab", 28))
	}
	f.md = map[string]metadata.MD{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	rpcpb.RegisterNodeInfoGcsServiceServer(s, f)
	rpcpb.RegisterNodeResourceInfoGcsServiceServer(s, f)
	rpcpb.RegisterInternalKVGcsServiceServer(s, f)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

func TestClientAgainstFake(t *testing.T) {
	t.Parallel()
	for _, noTotals := range []bool{false, true} {
		f := &fakeGCS{noTotals: noTotals}
		addr := startFake(t, f)
		ctx := context.Background()
		c, err := Dial(ctx, addr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl, err := c.Describe(ctx)
		if err != nil {
			t.Fatalf("noTotals=%v: %v", noTotals, err)
		}
		if cl.ClusterID != strings.Repeat("ab", 28) || cl.RayVersion != "2.30.0" || cl.Dashboard != "http://10.0.0.1:8265" {
			t.Errorf("cluster = %+v", cl)
		}
		// Alive first, head first; dead nodes kept but not counted.
		if len(cl.Nodes) != 2 || !cl.Nodes[0].Head || cl.Nodes[1].Alive || cl.AliveNodes() != 1 {
			t.Errorf("nodes = %+v", cl.Nodes)
		}
		if cl.Total["GPU"] != 1 || cl.Available["GPU"] != 0.5 || cl.Total["CPU"] != 4 {
			t.Errorf("noTotals=%v: total=%v available=%v", noTotals, cl.Total, cl.Available)
		}
		if _, err := c.KVGet(ctx, "ns", "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing key: %v", err)
		}
		f.mu.Lock()
		if ids := f.md["GetClusterId"].Get("ray_cluster_id"); len(ids) != 0 {
			t.Errorf("GetClusterId carried a cluster id: %v", ids)
		}
		if ids := f.md["GetAllNodeInfo"].Get("ray_cluster_id"); len(ids) != 1 || ids[0] != strings.Repeat("ab", 28) {
			t.Errorf("GetAllNodeInfo cluster id = %v", ids)
		}
		f.mu.Unlock()
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	f := &fakeGCS{token: "secret"}
	addr := startFake(t, f)
	if _, err := Dial(ctx, addr, Options{}); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "RAY_AUTH_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	c, err := Dial(ctx, addr, Options{Token: "secret"})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	c.Close()
	f.mu.Lock()
	if a := f.md["GetClusterId"].Get("authorization"); len(a) != 1 || a[0] != "Bearer secret" {
		t.Errorf("authorization = %v", a)
	}
	f.mu.Unlock()

	// A GCS that restarted under the same address has a new cluster id.
	f2 := &fakeGCS{}
	addr2 := startFake(t, f2)
	c2, err := Dial(ctx, addr2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	f2.clusterID = []byte(strings.Repeat("\xcd", 28))
	if _, err := c2.Nodes(ctx); err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Errorf("wrong cluster id: %v", err)
	}

	// Nothing listening: unreachable, quickly.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	start := time.Now()
	if _, err := Dial(ctx, closed, Options{ProbeTimeout: 2 * time.Second}); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed port: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refused connection took %v", d)
	}
	_, _, err = Connect(ctx, FindOptions{Address: closed}, Options{})
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "--ray-address") {
		t.Errorf("Connect: %v", err)
	}
}
