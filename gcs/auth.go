package gcs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Token is a Ray auth token (Ray >= 2.52, RAY_AUTH_MODE=token) and where it came from.
type Token struct {
	Value  string
	Source string
}

// LoadToken finds the token the way Ray does: RAY_AUTH_TOKEN, else the file
// named by RAY_AUTH_TOKEN_PATH (an error if that file cannot be read), else
// ~/.ray/auth_token if it exists. No token is not an error: most clusters run
// without authentication.
func LoadToken(getenv func(string) string, home string) (Token, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := strings.TrimSpace(getenv("RAY_AUTH_TOKEN")); v != "" {
		return Token{Value: v, Source: "RAY_AUTH_TOKEN"}, nil
	}
	if p := getenv("RAY_AUTH_TOKEN_PATH"); p != "" {
		v, err := readToken(p)
		if err != nil {
			return Token{}, fmt.Errorf("RAY_AUTH_TOKEN_PATH: %w", err)
		}
		return Token{Value: v, Source: p}, nil
	}
	if home != "" {
		p := filepath.Join(home, ".ray", "auth_token")
		if v, err := readToken(p); err == nil && v != "" {
			return Token{Value: v, Source: p}, nil
		}
	}
	return Token{}, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first), nil
}
