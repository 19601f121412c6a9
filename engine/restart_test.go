package engine

import (
	"reflect"
	"testing"
	"time"
)

func TestRestartPolicy(t *testing.T) {
	for in, want := range map[string]RestartPolicy{
		"": {Name: "no"}, "no": {Name: "no"}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaximumRetryCount: 3},
	} {
		if got, err := ParseRestartPolicy(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"sometimes", "always:2", "on-failure:-1", "on-failure:x", "no:1"} {
		if _, err := ParseRestartPolicy(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHealthConfigMerge(t *testing.T) {
	img := []byte(`{"config":{"Healthcheck":{"Test":["CMD","check","--fast"],"Interval":5000000000,"Retries":4}}}`)
	hc, err := healthConfig(&MonitorOptions{}, img)
	if err != nil || !reflect.DeepEqual(hc, &HealthConfig{Test: []string{"CMD", "check", "--fast"}, Interval: 5 * time.Second, Retries: 4}) {
		t.Errorf("the image's: %+v %v", hc, err)
	}
	if args, _ := hc.Args(); !reflect.DeepEqual(args, []string{"check", "--fast"}) {
		t.Errorf("args %q", args)
	}
	hc, err = healthConfig(&MonitorOptions{HealthCmd: "curl -f x", HealthTimeout: time.Second}, img)
	if err != nil || !reflect.DeepEqual(hc, &HealthConfig{Test: []string{"CMD-SHELL", "curl -f x"}, Interval: 5 * time.Second, Timeout: time.Second, Retries: 4}) {
		t.Errorf("flags over the image's: %+v %v", hc, err)
	}
	if args, _ := hc.Args(); !reflect.DeepEqual(args, []string{"/bin/sh", "-c", "curl -f x"}) {
		t.Errorf("args %q", args)
	}
	// The exec form (the Docker API's), run without a shell.
	hc, err = healthConfig(&MonitorOptions{HealthTest: []string{"CMD", "wget", "-q", "a b"}}, img)
	if args, _ := hc.Args(); err != nil || !reflect.DeepEqual(args, []string{"wget", "-q", "a b"}) {
		t.Errorf("HealthTest: %+v %v", hc, err)
	}
	for _, bad := range [][]string{{"CMD"}, {"CMD-SHELL", "x"}, {"true"}} {
		o := CreateOptions{Image: "x", MonitorOptions: MonitorOptions{HealthTest: bad}}
		if oes := OptionErrors(o.Validate()); len(oes) != 1 || oes[0].Field != "HealthTest" {
			t.Errorf("HealthTest %q: %v", bad, oes)
		}
	}
	if hc, err := healthConfig(&MonitorOptions{NoHealthcheck: true}, img); err != nil || hc.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: %+v %v", hc, err)
	} else if args, _ := hc.Args(); args != nil {
		t.Errorf("NONE runs %q", args)
	}
	if hc, err := healthConfig(&MonitorOptions{}, []byte(`{"config":{}}`)); hc != nil || err != nil {
		t.Errorf("no check: %+v %v", hc, err)
	}
	for _, o := range []MonitorOptions{{HealthInterval: -time.Second}, {HealthRetries: -1}, {NoHealthcheck: true, HealthCmd: "true"}} {
		if err := (&CreateOptions{MonitorOptions: o}).Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := healthConfig(&MonitorOptions{}, []byte(`{"config":{"Healthcheck":{"Test":["SHELL","x"]}}}`)); err == nil {
		t.Error("a bad Test accepted")
	}
}
