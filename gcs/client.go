package gcs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/ray/rpcpb"
)

// Errors a caller may need to tell apart (match with errors.Is).
var (
	// ErrUnreachable: nothing answers at the address (refused, timed out).
	ErrUnreachable = errors.New("GCS not reachable")
	// ErrAuth: the cluster wants a token we do not have, or rejects ours.
	ErrAuth = errors.New("GCS rejected the request as unauthenticated")
	// ErrUnimplemented: the server's Ray version lacks the method.
	ErrUnimplemented = errors.New("method not implemented by this Ray version")
	// ErrNotFound: a GCS "NotFound" status, e.g. a missing KV key.
	ErrNotFound = errors.New("not found")
)

// Ray status code numbers (src/ray/common/status.h) that callers care about.
const (
	codeNotFound = 17
)

// StatusError is an application error reported inside a GCS reply, which
// arrives with gRPC status OK.
type StatusError struct {
	Method  string
	Code    int32
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: GCS status %d: %s", e.Method, e.Code, e.Message)
}

func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Code == codeNotFound
}

// Options configure a Client.
type Options struct {
	// Token is sent as "authorization: Bearer <token>" when non-empty.
	Token string
	// ProbeTimeout bounds the identity check made by Dial and liveness probes
	// (default 2 s).
	ProbeTimeout time.Duration
	// CallTimeout bounds any other call whose context has no deadline (default 30 s).
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Client talks to one GCS. It is safe for concurrent use.
type Client struct {
	addr      string
	conn      *grpc.ClientConn
	clusterID []byte
	opts      Options
	log       *slog.Logger

	nodes     rpcpb.NodeInfoGcsServiceClient
	resources rpcpb.NodeResourceInfoGcsServiceClient
	kv        rpcpb.InternalKVGcsServiceClient
}

// Dial connects to the GCS at hostPort and checks that it answers by asking
// its cluster ID (within ProbeTimeout). The ID is then attached to every call,
// so a GCS that restarted under us is reported instead of silently used.
func Dial(ctx context.Context, hostPort string, opts Options) (*Client, error) {
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 2 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{addr: hostPort, opts: opts, log: log}
	conn, err := grpc.NewClient("passthrough:///"+hostPort,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Python Ray disables gRPC's HTTP proxy support too: a cluster is
		// reached directly, and HTTPS_PROXY on a login node would stall us.
		grpc.WithNoProxy(),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(512<<20),
			grpc.MaxCallSendMsgSize(512<<20),
		),
		// The GCS sends GOAWAY "too_many_pings" below a 60 s ping interval.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 300 * time.Second, Timeout: 20 * time.Second}),
		grpc.WithUnaryInterceptor(c.intercept),
	)
	if err != nil {
		return nil, fmt.Errorf("dial GCS %s: %w", hostPort, err)
	}
	c.conn = conn
	c.nodes = rpcpb.NewNodeInfoGcsServiceClient(conn)
	c.resources = rpcpb.NewNodeResourceInfoGcsServiceClient(conn)
	c.kv = rpcpb.NewInternalKVGcsServiceClient(conn)

	pctx, cancel := context.WithTimeout(ctx, opts.ProbeTimeout)
	defer cancel()
	reply, err := c.nodes.GetClusterId(pctx, &rpcpb.GetClusterIdRequest{})
	if err = c.check("GetClusterId", reply.GetStatus(), err); err != nil {
		conn.Close()
		return nil, err
	}
	c.clusterID = reply.GetClusterId()
	log.Debug("connected to GCS", "address", hostPort, "cluster_id", c.ClusterID())
	return c, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Address is the GCS host:port.
func (c *Client) Address() string { return c.addr }

// ClusterID is the cluster's ID in hex (56 characters).
func (c *Client) ClusterID() string { return hex.EncodeToString(c.clusterID) }

const getClusterIDMethod = "/ray.rpc.NodeInfoGcsService/GetClusterId"

func (c *Client) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
	var md []string
	if c.opts.Token != "" {
		md = append(md, "authorization", "Bearer "+c.opts.Token)
	}
	// GetClusterId rejects any non-empty ID; every other call is checked
	// against it, which detects a GCS restarted under the same address.
	if method != getClusterIDMethod && len(c.clusterID) > 0 {
		md = append(md, "ray_cluster_id", hex.EncodeToString(c.clusterID))
	}
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, callOpts...)
}

// check turns a transport error or a non-OK GcsStatus into a Go error.
func (c *Client) check(method string, st *rpcpb.GcsStatus, err error) error {
	if err != nil {
		return c.transportErr(method, err)
	}
	if st != nil && st.GetCode() != 0 {
		return &StatusError{Method: method, Code: st.GetCode(), Message: st.GetMessage()}
	}
	return nil
}

func (c *Client) transportErr(method string, err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("GCS %s %s: %w", c.addr, method, err)
	}
	switch {
	case s.Code() == codes.Unavailable, s.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("%w at %s: %s", ErrUnreachable, c.addr, unavailableReason(s))
	case s.Code() == codes.Canceled:
		return fmt.Errorf("GCS %s %s: %w", c.addr, method, context.Canceled)
	// Checked before auth: Ray reports it as an "AuthError" too.
	case strings.Contains(s.Message()+fmt.Sprint(s.Details()), "WrongClusterID"):
		return fmt.Errorf("GCS %s %s: the cluster at this address restarted (cluster ID changed): reconnect", c.addr, method)
	case s.Code() == codes.Unauthenticated,
		s.Code() == codes.Aborted && (strings.Contains(s.Message(), "Auth") || strings.Contains(s.Message(), "Unauthenticated")):
		hint := "set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH to the cluster's token (ray get-auth-token)"
		if c.opts.Token != "" {
			hint = "the token was rejected; check RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / ~/.ray/auth_token"
		}
		return fmt.Errorf("%w at %s (%s): %s", ErrAuth, c.addr, s.Message(), hint)
	case s.Code() == codes.Unimplemented:
		return fmt.Errorf("GCS %s %s: %w", c.addr, method, ErrUnimplemented)
	}
	return fmt.Errorf("GCS %s %s: %s: %s", c.addr, method, s.Code(), s.Message())
}

func unavailableReason(s *status.Status) string {
	msg := s.Message()
	switch {
	case s.Code() == codes.DeadlineExceeded:
		return "no answer before the deadline"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "no such host"):
		return "unknown host"
	}
	return msg
}

// RayVersion asks the GCS for its Ray version (CheckAlive, bounded by ProbeTimeout).
func (c *Client) RayVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ProbeTimeout)
	defer cancel()
	reply, err := c.nodes.CheckAlive(ctx, &rpcpb.CheckAliveRequest{})
	if err := c.check("CheckAlive", reply.GetStatus(), err); err != nil {
		return "", err
	}
	return reply.GetRayVersion(), nil
}

// Connect finds the cluster (see FindAddress) and dials it. A cluster that is
// named but does not answer is reported as ErrNoCluster too, with the
// address, where it came from and why it failed.
func Connect(ctx context.Context, find FindOptions, opts Options) (*Client, Address, error) {
	addr, err := FindAddress(find)
	if err != nil {
		return nil, Address{}, err
	}
	c, err := Dial(ctx, addr.HostPort, opts)
	if err != nil {
		if errors.Is(err, ErrUnreachable) {
			return nil, addr, fmt.Errorf("%w: %w (address from %s)", ErrNoCluster, err, addr.Source)
		}
		return nil, addr, fmt.Errorf("%w (address from %s)", err, addr.Source)
	}
	return c, addr, nil
}
