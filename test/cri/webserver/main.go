// Command webserver stands in for the nginx and httpd of critest's images: what the
// specs check is the runtime (a port reached through the pod's network, a pid seen
// from another namespace, a log line naming the server), not the server. Named
// nginx it writes /var/run/nginx.pid as nginx does; it serves 200 on PORT (80).
package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	name := filepath.Base(os.Args[0])
	port := os.Getenv("PORT")
	if port == "" {
		port = "80"
	}
	if name == "nginx" {
		if err := os.WriteFile("/var/run/nginx.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
		}
	}
	fmt.Printf("%s: serving on :%s\n", name, port)
	err := http.ListenAndServe(":"+port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><body>%s</body></html>\n", name)
	}))
	fmt.Fprintln(os.Stderr, name+":", err)
	os.Exit(1)
}
