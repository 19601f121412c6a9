package dockerapi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
)

// 200 clients at once, each on its own connection, mixing docker's calls: ps,
// inspect, create+start+wait+rm, logs, create+start+rm -f of a running
// container. None gets an error; afterwards the service holds the descriptors
// and goroutines it held before (counted in /proc/PID/fd and /info's
// NGoroutines), and only the container that was there before is left, with its
// one monitor: hull's CLI sees the same.
func TestConcurrentClients(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	c := s.Client()
	body, err := call(c, "POST", "/containers/create?name=seed", createBody("sh", "-c", "echo hello-seed; exec sleep 1000"), 201)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := createdID(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(c, "POST", "/containers/seed/start", "", 204); err != nil {
		t.Fatal(err)
	}
	ops := []func(i int) error{
		func(int) error { // ps
			body, err := call(c, "GET", "/containers/json?all=1", "", 200)
			if err == nil && !strings.Contains(body, seed) {
				err = fmt.Errorf("ps does not list the seed: %s", body)
			}
			return err
		},
		func(int) error { // inspect
			body, err := call(c, "GET", "/containers/seed/json", "", 200)
			if err == nil && !strings.Contains(body, `"Running":true`) {
				err = fmt.Errorf("inspect: the seed does not run: %s", body)
			}
			return err
		},
		func(i int) error { // run: create, start, wait, rm
			body, err := call(c, "POST", fmt.Sprintf("/containers/create?name=run%d", i), createBody("true"), 201)
			if err != nil {
				return err
			}
			id, err := createdID(body)
			if err != nil {
				return err
			}
			if _, err := call(c, "POST", "/containers/"+id+"/start", "", 204); err != nil {
				return err
			}
			if body, err := call(c, "POST", "/containers/"+id+"/wait", "", 200); err != nil || !strings.Contains(body, `"StatusCode":0`) {
				return fmt.Errorf("wait: %q %v", body, err)
			}
			_, err = call(c, "DELETE", "/containers/"+id+"?v=1", "", 204)
			return err
		},
		func(int) error { // logs
			body, err := call(c, "GET", "/containers/seed/logs?stdout=1&stderr=1", "", 200)
			if err == nil && !strings.Contains(body, "hello-seed") {
				err = fmt.Errorf("logs without the seed's line: %q", body)
			}
			return err
		},
		func(i int) error { // rm -f of a running container
			body, err := call(c, "POST", fmt.Sprintf("/containers/create?name=rm%d", i), createBody("sleep", "1000"), 201)
			if err != nil {
				return err
			}
			id, err := createdID(body)
			if err != nil {
				return err
			}
			if _, err := call(c, "POST", "/containers/"+id+"/start", "", 204); err != nil {
				return err
			}
			_, err = call(c, "DELETE", "/containers/"+id+"?force=1", "", 204)
			return err
		},
	}
	// One of each first, so that what the engine opens once and keeps (the
	// store, a cgroup root) is in the count before.
	for i, op := range ops {
		if err := op(1000 + i); err != nil {
			t.Fatal(err)
		}
	}
	pid := s.Cmd.Process.Pid
	fd0, g0 := openFDs(t, pid), goroutines(t, s)

	const clients = 200
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = ops[i%len(ops)](i)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d clients in %v", clients, time.Since(t0))
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	var fd, g int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fd, g = openFDs(t, pid), goroutines(t, s); fd <= fd0 && g <= g0 || time.Now().After(deadline) {
			break
		}
	}
	if fd > fd0 || g > g0 {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		var what []string
		for _, e := range ents {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
			what = append(what, e.Name()+" "+target)
		}
		t.Errorf("after the clients: %d descriptors (were %d), %d goroutines (were %d)\n%s", fd, fd0, g, g0, strings.Join(what, "\n"))
	}
	if out := strings.Fields(s.Docker(t, "ps", "-aq", "--no-trunc").Ok(t)); !slices.Equal(out, []string{seed}) {
		t.Errorf("docker ps -a after the clients: %v, want only the seed %s", out, seed)
	}
	if out := strings.Fields(s.Hull(t, "ps", "-aq", "--no-trunc").Ok(t)); !slices.Equal(out, []string{seed}) {
		t.Errorf("hull ps -a after the clients: %v, want only the seed %s", out, seed)
	}
	if ps := procsUnder(s.Root, pid); len(ps) != 1 {
		t.Errorf("processes under the root after the clients: %v, want the seed's monitor alone", ps)
	}
}

// Ten clients start one container at once: one start does it (204), the others
// find it running (304, as docker answers a start of a running container), and
// it still runs after. Before, each start spawned a monitor of its own: the
// runtime refused all but one ("container with id ... already exists", 400),
// and their cleanup could end the container the first had started.
func TestConcurrentStarts(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	c := s.Client()
	for round := range 3 {
		body, err := call(c, "POST", fmt.Sprintf("/containers/create?name=s%d", round), createBody("sleep", "1000"), 201)
		if err != nil {
			t.Fatal(err)
		}
		id, err := createdID(body)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]int, 10)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Post("http://docker/containers/"+id+"/start", "", nil)
				if err != nil {
					t.Error(err)
					return
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if codes[i] = resp.StatusCode; codes[i] != 204 && codes[i] != 304 {
					t.Errorf("start: %d %s", resp.StatusCode, data)
				}
			}()
		}
		wg.Wait()
		if n := strings.Count(fmt.Sprint(codes), "204"); n != 1 {
			t.Errorf("round %d: %d starts answered 204, want 1: %v", round, n, codes)
		}
		time.Sleep(300 * time.Millisecond)
		if st := inspectField(t, s, id, "{{.State.Status}}"); st != "running" {
			t.Errorf("round %d: the container is %s after the starts", round, st)
		}
	}
}
