package gcs

import (
	"context"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/ray/rpcpb"
)

// KVGet reads key in namespace ns; a missing key is an error matching ErrNotFound.
func (c *Client) KVGet(ctx context.Context, ns, key string) ([]byte, error) {
	reply, err := c.kv.InternalKVGet(ctx, &rpcpb.InternalKVGetRequest{Key: []byte(key), Namespace: []byte(ns)})
	if err := c.check("InternalKVGet "+ns+"/"+key, reply.GetStatus(), err); err != nil {
		return nil, err
	}
	return reply.GetValue(), nil
}

// KVPut writes key; with overwrite false an existing value is kept. It
// reports whether a new key was added.
func (c *Client) KVPut(ctx context.Context, ns, key string, value []byte, overwrite bool) (bool, error) {
	reply, err := c.kv.InternalKVPut(ctx, &rpcpb.InternalKVPutRequest{Key: []byte(key), Value: value, Overwrite: overwrite, Namespace: []byte(ns)})
	if err := c.check("InternalKVPut "+ns+"/"+key, reply.GetStatus(), err); err != nil {
		return false, err
	}
	return reply.GetAdded() != 0, nil
}

// KVDel deletes key, or every key starting with it when byPrefix is set, and
// returns how many were deleted.
func (c *Client) KVDel(ctx context.Context, ns, key string, byPrefix bool) (int, error) {
	reply, err := c.kv.InternalKVDel(ctx, &rpcpb.InternalKVDelRequest{Key: []byte(key), Namespace: []byte(ns), DelByPrefix: byPrefix})
	if err := c.check("InternalKVDel "+ns+"/"+key, reply.GetStatus(), err); err != nil {
		return 0, err
	}
	return int(reply.GetDeletedNum()), nil
}

// KVExists reports whether key exists.
func (c *Client) KVExists(ctx context.Context, ns, key string) (bool, error) {
	reply, err := c.kv.InternalKVExists(ctx, &rpcpb.InternalKVExistsRequest{Key: []byte(key), Namespace: []byte(ns)})
	if err := c.check("InternalKVExists "+ns+"/"+key, reply.GetStatus(), err); err != nil {
		return false, err
	}
	return reply.GetExists(), nil
}

// KVKeys lists the keys in ns that start with prefix. ns must not contain a
// colon: GCS returns keys cut at the first colon after its namespace marker.
func (c *Client) KVKeys(ctx context.Context, ns, prefix string) ([]string, error) {
	reply, err := c.kv.InternalKVKeys(ctx, &rpcpb.InternalKVKeysRequest{Prefix: []byte(prefix), Namespace: []byte(ns)})
	if err := c.check("InternalKVKeys "+ns+"/"+prefix, reply.GetStatus(), err); err != nil {
		return nil, err
	}
	keys := make([]string, len(reply.GetResults()))
	for i, k := range reply.GetResults() {
		keys[i] = string(k)
	}
	return keys, nil
}

// DashboardURL returns the dashboard's base URL as the dashboard itself
// published it in KV (namespace "dashboard", key "dashboard", value host:port).
func (c *Client) DashboardURL(ctx context.Context) (string, error) {
	v, err := c.KVGet(ctx, "dashboard", "dashboard")
	if err != nil {
		return "", err
	}
	return "http://" + string(v), nil
}
