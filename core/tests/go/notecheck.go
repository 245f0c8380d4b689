// notecheck: cross-checks cairn's signed notes against Go's golang.org/x/mod/sumdb/note.
//
//	notecheck verify <verifier key> <note file>   exit 0 and print the text if the note verifies
//	notecheck sign <signer key> <text file>       print the text signed with Go's signer
//
// Built by core/tests/checkpoint_go.rs without network access (GOPATH mode against the
// Debian package golang-golang-x-mod-dev).
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: notecheck verify|sign KEY FILE")
	}
	data, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("read: %v", err)
	}
	switch os.Args[1] {
	case "verify":
		v, err := note.NewVerifier(os.Args[2])
		if err != nil {
			fail("verifier key: %v", err)
		}
		n, err := note.Open(data, note.VerifierList(v))
		if err != nil {
			fail("open: %v", err)
		}
		fmt.Printf("verified %d unverified %d\n%s", len(n.Sigs), len(n.UnverifiedSigs), n.Text)
	case "sign":
		s, err := note.NewSigner(os.Args[2])
		if err != nil {
			fail("signer key: %v", err)
		}
		out, err := note.Sign(&note.Note{Text: string(data)}, s)
		if err != nil {
			fail("sign: %v", err)
		}
		os.Stdout.Write(out)
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
