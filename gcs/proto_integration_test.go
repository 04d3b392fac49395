package gcs_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/auto-tune-vllm/auto-tune-vllm/internal/raytest"
	_ "github.com/auto-tune-vllm/auto-tune-vllm/third_party/ray/rpcpb"
)

// rayDescriptors is the output of scripts/ray-descriptors.py.
type rayDescriptors struct {
	RayVersion string `json:"ray_version"`
	Messages   map[string]map[string]struct {
		Number   int  `json:"number"`
		Type     any  `json:"type"` // descriptor type number, or "map"
		Repeated bool `json:"repeated"`
	} `json:"messages"`
	Services map[string]map[string][2]string `json:"services"`
}

// wireCompatible lists deliberate type differences that encode identically.
var wireCompatible = map[string]bool{
	// bool added (>= 2.41) / int32 added_num (older): both varints.
	"ray.rpc.InternalKVPutReply.added": true,
}

// Every message, field and method of third_party/ray/proto must match the
// installed Ray's own generated descriptors: same number, same type.
func TestProtoMatchesRay(t *testing.T) {
	bin := raytest.Bin(t)
	out, err := exec.Command(filepath.Join(bin, "python"), filepath.Join("..", "scripts", "ray-descriptors.py")).Output()
	if err != nil {
		t.Fatalf("ray-descriptors.py: %v", err)
	}
	var ray rayDescriptors
	if err := json.Unmarshal(out, &ray); err != nil {
		t.Fatal(err)
	}
	t.Logf("checking against Ray %s", ray.RayVersion)

	fd, err := protoregistry.GlobalFiles.FindFileByPath("gcs.proto")
	if err != nil {
		t.Fatal(err)
	}
	var checkMessage func(md protoreflect.MessageDescriptor)
	checkMessage = func(md protoreflect.MessageDescriptor) {
		if md.IsMapEntry() {
			return
		}
		name := string(md.FullName())
		theirs, ok := ray.Messages[name]
		if !ok {
			t.Errorf("%s: not in Ray %s", name, ray.RayVersion)
			return
		}
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			th, ok := theirs[string(f.Name())]
			full := name + "." + string(f.Name())
			switch {
			case !ok:
				t.Errorf("%s: no such field in Ray %s", full, ray.RayVersion)
			case th.Number != int(f.Number()):
				t.Errorf("%s: our number %d, Ray's %d", full, f.Number(), th.Number)
			case f.IsMap() != (th.Type == "map"):
				t.Errorf("%s: map mismatch", full)
			case !f.IsMap() && !wireCompatible[full] && th.Type != float64(f.Kind()):
				t.Errorf("%s: our type %v (%d), Ray's %v", full, f.Kind(), f.Kind(), th.Type)
			case f.IsList() != th.Repeated && !f.IsMap():
				t.Errorf("%s: repeated mismatch", full)
			}
		}
		for i := 0; i < md.Messages().Len(); i++ {
			checkMessage(md.Messages().Get(i))
		}
	}
	for i := 0; i < fd.Messages().Len(); i++ {
		checkMessage(fd.Messages().Get(i))
	}
	for i := 0; i < fd.Services().Len(); i++ {
		sd := fd.Services().Get(i)
		theirs := ray.Services[string(sd.FullName())]
		for j := 0; j < sd.Methods().Len(); j++ {
			m := sd.Methods().Get(j)
			io, ok := theirs[string(m.Name())]
			if !ok {
				t.Errorf("%s.%s: not in Ray %s", sd.FullName(), m.Name(), ray.RayVersion)
				continue
			}
			if io[0] != string(m.Input().FullName()) || io[1] != string(m.Output().FullName()) {
				t.Errorf("%s.%s: types %s→%s, Ray's %v", sd.FullName(), m.Name(), m.Input().FullName(), m.Output().FullName(), io)
			}
		}
	}
}
