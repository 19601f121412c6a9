package nft

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
)

// Rule is one rule of hull's table as the kernel holds it: its chain, its handle,
// and the key of the group it belongs to (its comment, "hull:<key>"), which says
// in words what the rule is for: "port tcp *:8080 10.88.0.2:80", "net BRIDGE
// SUBNET", "self BRIDGE ADDR", "base".
type Rule struct {
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle"`
	Key    string `json:"key"`
	// Exprs counts the rule's expressions (what nft(8) would print as its
	// statements, a few each).
	Exprs int `json:"exprs"`
}

// List reads the rules of hull's table (family inet) from the kernel, chain by
// chain; none when the table does not exist.
func List(table string) ([]Rule, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	if _, err := c.ListTableOfFamily(table, t.Family); err != nil {
		return nil, nil
	}
	var out []Rule
	for _, name := range chainNames {
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			continue
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			out = append(out, Rule{Chain: name, Handle: r.Handle, Key: strings.TrimPrefix(comment, "hull:"), Exprs: len(r.Exprs)})
		}
	}
	return out, nil
}
