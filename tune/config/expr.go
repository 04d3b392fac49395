package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Expr is a parsed constraint expression: arithmetic over parameter names
// with Python's operators (+ - * / // % **, comparisons, and/or/not) and the
// functions min, max, abs. It is parsed once at load time; evaluating it
// runs no user code. As in Optuna, a result > 0 means "violated"; booleans
// count as 1 and 0, so `a > b` is violated when a exceeds b.
type Expr struct {
	Source string
	root   node
	names  []string
}

// Names lists the parameter names the expression reads.
func (e *Expr) Names() []string { return e.names }

// Eval computes the expression with the given values.
func (e *Expr) Eval(vars map[string]float64) (float64, error) { return e.root.eval(vars) }

type node interface {
	eval(map[string]float64) (float64, error)
}

type num float64
type name string
type unary struct {
	op string
	x  node
}
type binary struct {
	op   string
	l, r node
}
type call struct {
	fn   string
	args []node
}

func (n num) eval(map[string]float64) (float64, error) { return float64(n), nil }

func (n name) eval(v map[string]float64) (float64, error) {
	x, ok := v[string(n)]
	if !ok {
		return 0, fmt.Errorf("%s has no value in this trial", n)
	}
	return x, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (u unary) eval(v map[string]float64) (float64, error) {
	x, err := u.x.eval(v)
	if err != nil {
		return 0, err
	}
	switch u.op {
	case "-":
		return -x, nil
	case "+":
		return x, nil
	}
	return b2f(x == 0), nil // not
}

func (b binary) eval(v map[string]float64) (float64, error) {
	l, err := b.l.eval(v)
	if err != nil {
		return 0, err
	}
	// Short-circuit like Python, returning the deciding operand.
	switch b.op {
	case "and":
		if l == 0 {
			return l, nil
		}
		return b.r.eval(v)
	case "or":
		if l != 0 {
			return l, nil
		}
		return b.r.eval(v)
	}
	r, err := b.r.eval(v)
	if err != nil {
		return 0, err
	}
	switch b.op {
	case "+":
		return l + r, nil
	case "-":
		return l - r, nil
	case "*":
		return l * r, nil
	case "/":
		if r == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		return l / r, nil
	case "//":
		if r == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		return math.Floor(l / r), nil
	case "%":
		if r == 0 {
			return 0, fmt.Errorf("modulo by zero")
		}
		m := math.Mod(l, r)
		if m != 0 && (m < 0) != (r < 0) { // Python's sign follows the divisor
			m += r
		}
		return m, nil
	case "**":
		return math.Pow(l, r), nil
	case "<":
		return b2f(l < r), nil
	case "<=":
		return b2f(l <= r), nil
	case ">":
		return b2f(l > r), nil
	case ">=":
		return b2f(l >= r), nil
	case "==":
		return b2f(l == r), nil
	case "!=":
		return b2f(l != r), nil
	}
	return 0, fmt.Errorf("unknown operator %s", b.op)
}

func (c call) eval(v map[string]float64) (float64, error) {
	args := make([]float64, len(c.args))
	for i, a := range c.args {
		x, err := a.eval(v)
		if err != nil {
			return 0, err
		}
		args[i] = x
	}
	switch c.fn {
	case "abs":
		return math.Abs(args[0]), nil
	case "min":
		m := args[0]
		for _, a := range args[1:] {
			m = math.Min(m, a)
		}
		return m, nil
	}
	m := args[0]
	for _, a := range args[1:] {
		m = math.Max(m, a)
	}
	return m, nil
}

// ParseExpr parses a constraint expression.
func ParseExpr(src string) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, seen: map[string]bool{}}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at column %d", p.peek().text, p.peek().pos+1)
	}
	return &Expr{Source: src, root: root, names: p.names}, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tNum
	tName
	tOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case unicode.IsDigit(c) || c == '.' && i+1 < len(s) && unicode.IsDigit(rune(s[i+1])):
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == '_' ||
				s[j] == 'e' || s[j] == 'E' || (s[j] == '-' || s[j] == '+') && j > i && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			out = append(out, token{tNum, s[i:j], i})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			out = append(out, token{tName, s[i:j], i})
			i = j
		default:
			op := ""
			for _, cand := range []string{"**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "(", ")", ","} {
				if strings.HasPrefix(s[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unexpected %q at column %d", string(c), i+1)
			}
			out = append(out, token{tOp, op, i})
			i += len(op)
		}
	}
	return append(out, token{tEOF, "end of expression", len(s)}), nil
}

type parser struct {
	toks  []token
	i     int
	names []string
	seen  map[string]bool
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// Binding powers, loosest first (Python's precedence).
var infix = map[string]int{
	"or": 1, "and": 2,
	"<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4,
	"+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "**": 8,
}

func (p *parser) expr(minBP int) (node, error) {
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		bp, ok := infix[t.text]
		if !ok || (t.kind != tOp && t.kind != tName) || bp <= minBP {
			return left, nil
		}
		p.next()
		rbp := bp
		if t.text == "**" {
			rbp = bp - 1 // right-associative
		}
		right, err := p.expr(rbp)
		if err != nil {
			return nil, err
		}
		left = binary{t.text, left, right}
	}
}

func (p *parser) prefix() (node, error) {
	t := p.next()
	switch {
	case t.kind == tNum:
		f, err := strconv.ParseFloat(strings.ReplaceAll(t.text, "_", ""), 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q at column %d", t.text, t.pos+1)
		}
		return num(f), nil
	case t.kind == tName && t.text == "not":
		x, err := p.expr(3)
		return unary{"not", x}, err
	case t.kind == tName && (t.text == "True" || t.text == "true"):
		return num(1), nil
	case t.kind == tName && (t.text == "False" || t.text == "false"):
		return num(0), nil
	case t.kind == tName && (t.text == "min" || t.text == "max" || t.text == "abs") && p.peek().text == "(":
		p.next()
		var args []node
		for p.peek().text != ")" {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.peek().text == "," {
				p.next()
			} else if p.peek().text != ")" {
				return nil, fmt.Errorf("expected , or ) at column %d", p.peek().pos+1)
			}
		}
		p.next()
		if len(args) == 0 || t.text == "abs" && len(args) != 1 {
			return nil, fmt.Errorf("%s() at column %d: wrong number of arguments", t.text, t.pos+1)
		}
		return call{t.text, args}, nil
	case t.kind == tName && infix[t.text] == 0:
		if p.peek().text == "(" {
			return nil, fmt.Errorf("unknown function %s() at column %d: only min, max and abs are allowed", t.text, t.pos+1)
		}
		if !p.seen[t.text] {
			p.seen[t.text] = true
			p.names = append(p.names, t.text)
		}
		return name(t.text), nil
	case t.text == "-" || t.text == "+":
		x, err := p.expr(7) // binds tighter than * but looser than **
		return unary{t.text, x}, err
	case t.text == "(":
		x, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if p.next().text != ")" {
			return nil, fmt.Errorf("missing ) for ( at column %d", t.pos+1)
		}
		return x, nil
	}
	return nil, fmt.Errorf("unexpected %s at column %d", t.text, t.pos+1)
}
