package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/spf13/cobra"
)

// `hull login` and `hull logout`. Credentials go where Docker keeps them
// (~/.docker/config.json or its credential helper), so pulls find them through the
// default keychain.

func loginCommand() *cobra.Command {
	var user, pass string
	var passStdin bool
	login := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "store credentials for a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if passStdin {
				b, err := io.ReadAll(bufio.NewReader(os.Stdin))
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || pass == "" {
				return badUsage(fmt.Errorf("login needs --username and --password or --password-stdin"))
			}
			cf, err := config.Load(config.Dir())
			if err != nil {
				return fmt.Errorf("read docker config: %w", err)
			}
			host := registryHost(args[0])
			if err := cf.GetCredentialsStore(host).Store(types.AuthConfig{ServerAddress: host, Username: user, Password: pass}); err != nil {
				return fmt.Errorf("store credentials: %w", err)
			}
			if err := cf.Save(); err != nil {
				return fmt.Errorf("save docker config: %w", err)
			}
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	login.Flags().StringVarP(&user, "username", "u", "", "user name")
	login.Flags().StringVarP(&pass, "password", "p", "", "password")
	login.Flags().BoolVar(&passStdin, "password-stdin", false, "read the password from stdin")
	return login
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "forget the credentials for a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, err := config.Load(config.Dir())
			if err != nil {
				return fmt.Errorf("read docker config: %w", err)
			}
			host := registryHost(args[0])
			if err := cf.GetCredentialsStore(host).Erase(host); err != nil {
				return fmt.Errorf("erase credentials: %w", err)
			}
			return cf.Save()
		},
	}
}

// registryHost maps Docker Hub's names to the key Docker uses for it.
func registryHost(r string) string {
	switch r {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "https://index.docker.io/v1/"
	}
	return r
}
