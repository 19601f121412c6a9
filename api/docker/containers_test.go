package docker

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hullproject/hull/engine"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// decodeCreate reads a create body as the handler does.
func decodeCreate(t *testing.T, body string) *container.CreateRequest {
	t.Helper()
	var req container.CreateRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	return &req
}

// The create body, as docker's CLI and compose send it, becomes the options
// hull create's flags make, in the engine's grammars. Config.Volumes on a path
// a bind, a tmpfs or a mount has (/c, /t, /w) is no anonymous volume of its own,
// as docker's: docker-compose 1.29 sends each service volume both ways.
func TestCreateOptionsMapping(t *testing.T) {
	req := decodeCreate(t, `{
		"Image": "busybox", "Cmd": ["-c", "x"], "Entrypoint": ["sh"], "Env": ["A=1"], "User": "1:2",
		"Volumes": {"/b": {}, "/a": {}, "/c": {}, "/t/": {}, "/w": {}}, "OpenStdin": true, "StopTimeout": 3,
		"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 2},
		"HostConfig": {
			"Binds": ["/h:/c:ro"], "NetworkMode": "app", "PublishAllPorts": true,
			"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostPort": ""}], "53/udp": [{"HostPort": "5353"}]},
			"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 4},
			"Tmpfs": {"/t": "size=1m", "/u": ""},
			"Mounts": [{"Type": "bind", "Source": "/h,1", "Target": "/v", "ReadOnly": true, "BindOptions": {"Propagation": "rslave"}},
			           {"Type": "volume", "Source": "v1", "Target": "/w", "VolumeOptions": {"NoCopy": true, "Labels": {"k": "v"}}},
			           {"Type": "tmpfs", "Target": "/s", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 448}},
			           {"Type": "tmpfs", "Target": "/s2", "TmpfsOptions": {"Mode": 1023}},
			           {"Type": "tmpfs", "Target": "/s4", "ReadOnly": true, "TmpfsOptions": {"SizeBytes": 4096, "Options": [["exec"], ["uid", "1000"]]}},
			           {"Type": "bind", "Source": "/h", "Target": "/b1", "BindOptions": {"NonRecursive": true, "CreateMountpoint": true}},
			           {"Type": "bind", "Source": "/h", "Target": "/b2", "ReadOnly": true, "BindOptions": {"ReadOnlyForceRecursive": true}},
			           {"Type": "tmpfs", "Target": "/s3", "TmpfsOptions": {"Mode": 1049087}}],
			"Memory": 67108864, "PidsLimit": 0, "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}],
			"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}],
			"MemorySwappiness": -1, "OomKillDisable": false, "Init": true, "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
			"Dns": ["1.1.1.1"], "ConsoleSize": [24, 80], "Links": ["web:www"], "Umask": 18
		},
		"NetworkingConfig": {"EndpointsConfig": {"app": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}, "MacAddress": "02:42:ac:11:00:02", "Links": ["web:www", "db"]}, "other": {"Aliases": ["o"], "IPAMConfig": {"IPv4Address": "10.9.1.5"}, "MacAddress": "02:42:ac:11:00:03"}}}
	}`)
	o, extra, err := createOptions("/web1", req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Name": "web1", "Entrypoint": &[]string{"sh"}, "Cmd": []string{"-c", "x"}, "Interactive": true,
		"Volumes": []string{"/a", "/b", "/h:/c:ro"}, "Network": "app", "PublishAll": true,
		"Publish": []string{"5353:53/udp", "127.0.0.1:8080:80/tcp", "80/tcp"},
		"Restart": "on-failure:4",
		"Tmpfs":   []string{"/t:size=1m", "/u", "/s4:size=4096,ro,exec,uid=1000"},
		"Mounts": []string{`type=bind,target=/v,"source=/h,1",readonly,bind-propagation=rslave`, "type=volume,target=/w,source=v1,volume-nocopy,volume-label=k=v",
			"type=tmpfs,target=/s,tmpfs-size=1024,tmpfs-mode=700",
			"type=tmpfs,target=/s2,tmpfs-mode=1777", "type=bind,target=/b1,source=/h,bind-recursive=disabled,bind-create-src",
			"type=bind,target=/b2,source=/h,readonly,bind-recursive=readonly", "type=tmpfs,target=/s3,tmpfs-mode=1777"}, // 0o1777 as docker's CLI sends it, and with os.ModeSticky
		"PidsLimit": int64(-1), "Ulimits": []string{"nofile=10:20"}, "Devices": []string{"/dev/null:/dev/n:rw"},
		"MemorySwappiness": (*int64)(nil), "OomKillDisable": false, "Init": true, "LogDriver": "json-file", "LogOpts": []string{"max-size=1m"},
		"DNS": []string{"1.1.1.1"}, "NetworkAliases": []string{"web"}, "IP": "10.9.0.5", "MacAddress": "02:42:ac:11:00:02",
		"HealthTest": []string{"CMD", "true"}, "HealthRetries": 2,
		"Links": []string{"web:www", "db"}, // HostConfig's and the endpoints', once each
		"Umask": "0022",
	}
	ov := reflect.ValueOf(o)
	for field, w := range want {
		if got := ov.FieldByName(field).Interface(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %#v, want %#v", field, got, w)
		}
	}
	if *o.StopTimeout != 3 || o.ConsoleSize.Height != 24 || o.ConsoleSize.Width != 80 {
		t.Errorf("StopTimeout %v ConsoleSize %+v", o.StopTimeout, o.ConsoleSize)
	}
	if len(extra) != 1 || extra[0].name != "other" || extra[0].o.Aliases[0] != "o" || extra[0].o.IP != "10.9.1.5" || extra[0].o.MAC != "02:42:ac:11:00:03" {
		t.Errorf("networks beyond NetworkMode's: %+v", extra)
	}
	// The mounts written are what the engine's grammar reads back.
	if err := (&engine.CreateOptions{Image: "x", VolumeOptions: engine.VolumeOptions{Mounts: o.Mounts, Tmpfs: o.Tmpfs}}).Validate(); err != nil {
		t.Errorf("the engine refuses the mounts written: %v", err)
	}

	// The CLI's default network is "default", in NetworkMode and EndpointsConfig.
	o, extra, err = createOptions("", decodeCreate(t, `{"Image":"busybox","HostConfig":{"NetworkMode":"default"},"NetworkingConfig":{"EndpointsConfig":{"default":{"Aliases":["x"]}}}}`))
	if err != nil || o.Network != "bridge" || len(extra) != 0 || len(o.NetworkAliases) != 1 {
		t.Errorf("default network: %+v %+v %v", o.Network, extra, err)
	}
	// docker's CLI sends --security-opt systempaths=unconfined as empty lists.
	o, _, err = createOptions("", decodeCreate(t, `{"Image":"busybox","HostConfig":{"MaskedPaths":[],"ReadonlyPaths":[],"SecurityOpt":["no-new-privileges"]}}`))
	if err != nil || !reflect.DeepEqual(o.SecurityOpt, []string{"no-new-privileges", "systempaths=unconfined"}) {
		t.Errorf("empty MaskedPaths and ReadonlyPaths: SecurityOpt %q, %v", o.SecurityOpt, err)
	}
	// [""] and [] are no entrypoint; NONE no health check.
	o, _, _ = createOptions("", decodeCreate(t, `{"Image":"busybox","Entrypoint":[],"Healthcheck":{"Test":["NONE"]}}`))
	if o.Entrypoint == nil || !reflect.DeepEqual(*o.Entrypoint, []string{""}) || !o.NoHealthcheck {
		t.Errorf("Entrypoint %v NoHealthcheck %v", o.Entrypoint, o.NoHealthcheck)
	}
}

// A field the engine has no option for is refused by its JSON path, every one
// at once.
func TestCreateOptionsRefusals(t *testing.T) {
	_, _, err := createOptions("", decodeCreate(t, `{"Image":"","HostConfig":{"ReadonlyPaths":[],"Mounts":[{"Type":"bind","Source":"/x","Target":"/y","ReadOnly":true,"BindOptions":{"ReadOnlyNonRecursive":true}}]},
		"Healthcheck":{"Test":["CMD-SHELL"]},"NetworkingConfig":{"EndpointsConfig":{"n2":{"IPAMConfig":{"IPv6Address":"fd00::1"}}}}}`))
	if statusOf(err) != 400 {
		t.Fatalf("%v: status %d", err, statusOf(err))
	}
	for _, f := range []string{"Config.Image", "HostConfig.ReadonlyPaths", "HostConfig.Mounts", "Config.Healthcheck.Test", "NetworkingConfig.EndpointsConfig.n2.IPAMConfig"} {
		if !strings.Contains(err.Error(), f+": ") {
			t.Errorf("%v does not name %s", err, f)
		}
	}
	if _, err := mountSpec(mount.Mount{Type: mount.TypeImage, Target: "/x"}); err == nil {
		t.Error("an image mount was written")
	}
	// The engine's refusals, named by docker's fields.
	o := engine.CreateOptions{Image: "x", Memory: 1, StopSignal: "NOPE", MonitorOptions: engine.MonitorOptions{Restart: "sometimes"}}
	err = createError(o.Validate())
	for _, f := range []string{"HostConfig.Memory: ", "Config.StopSignal: ", "HostConfig.RestartPolicy: "} {
		if statusOf(err) != 400 || !strings.Contains(err.Error(), f) {
			t.Errorf("%v (%d) does not name %s", err, statusOf(err), f)
		}
	}
}
