package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

// How the commands print (beside listing.go's tables): inspect's JSON or template,
// prune's reports and question, sizes.

// printJSONOrTemplate prints v as indented JSON, or each element of it through a
// Go template.
func printJSONOrTemplate[T any](v []T, format string) error {
	if format == "" {
		// Encoded straight into the output, indented as it goes (MarshalIndent
		// would encode, indent a copy, and Println copy that again: inspect of
		// hundreds of containers is megabytes).
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		return w.Flush()
	}
	tmpl, err := template.New("f").Funcs(template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}).Parse(format)
	if err != nil {
		return err
	}
	for _, o := range v {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, o); err != nil {
			// docker's fallback: the template on the object's JSON, so that
			// its names work whatever hull's Go fields are called ({{.Id}})
			data, jerr := json.Marshal(o)
			if jerr != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var raw any
			if dec.Decode(&raw) != nil {
				return err
			}
			b.Reset()
			if tmpl.Execute(&b, raw) != nil {
				return err
			}
		}
		b.WriteByte('\n')
		os.Stdout.Write(b.Bytes())
	}
	return nil
}

// confirm asks on the terminal; anything but y or yes is no.
func confirm(question string) bool {
	fmt.Fprint(os.Stderr, question+"\nAre you sure you want to continue? [y/N] ")
	var answer string
	fmt.Scanln(&answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

func printDeleted(title string, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Println(title)
	for _, n := range names {
		fmt.Println(n)
	}
	fmt.Println()
}

func humanBytes(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
