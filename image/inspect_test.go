package image

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestInspectDockerFields: Inspect shows the Docker fields of an image's config
// (Healthcheck, OnBuild, Shell), which image-spec's config type has no room for,
// where docker image inspect shows them.
func TestInspectDockerFields(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	config := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
		"config":{"Env":["A=b"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2},
		"OnBuild":["RUN echo hi"],"Shell":["/bin/sh","-ec"]}}`
	if _, err := s.NewImage([]byte(config), nil, "fields:1"); err != nil {
		t.Fatal(err)
	}
	in, err := s.Inspect("fields:1")
	if err != nil {
		t.Fatal(err)
	}
	c := in.Config
	if c.Healthcheck == nil || strings.Join(c.Healthcheck.Test, " ") != "CMD-SHELL true" || c.Healthcheck.Retries != 2 ||
		strings.Join(c.OnBuild, "|") != "RUN echo hi" || strings.Join(c.Shell, " ") != "/bin/sh -ec" || strings.Join(c.Env, " ") != "A=b" {
		t.Errorf("config %+v", c)
	}
	data, _ := json.Marshal(in)
	if !strings.Contains(string(data), `"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}`) {
		t.Errorf("json: %s", data)
	}
}
