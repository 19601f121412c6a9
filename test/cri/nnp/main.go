// Command nnp is the program of critest's nonewprivs image, installed set-user-ID
// root: it prints the effective uid it runs with, which is 0 when the container may
// gain privileges through it and the caller's uid under no_new_privs.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Printf("Effective uid: %d\n", os.Geteuid()) }
