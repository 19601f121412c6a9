// Package dockerapi holds the Docker API's suites with real clients: the docker
// CLI, docker-py, docker compose and Testcontainers, each against `hull
// system service` started by api/docker/dockertest on temporary roots, compared
// with hull's own CLI on the same roots where both have the command.
package dockerapi

import (
	"os"
	"testing"

	"github.com/hullproject/hull/api/docker/dockertest"
)

func TestMain(m *testing.M) {
	code := dockertest.Main(m)
	removeComposePlugin()
	os.Exit(code)
}
