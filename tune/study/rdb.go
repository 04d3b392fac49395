package study

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver (pure Go)

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// SQL is a Storage on an Optuna-schema database: SQLite or PostgreSQL.
type SQL struct {
	db   *sql.DB
	path string // file or URL, for messages
	pg   bool
}

// q rewrites ? placeholders as $1, $2, … for PostgreSQL.
func (s *SQL) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Open opens the storage a study config names: a postgresql:// URL
// (optionally postgresql+driver://, as SQLAlchemy writes it), a sqlite:///
// URL, or a SQLite file path.
func Open(ctx context.Context, where string) (*SQL, error) {
	switch {
	case strings.HasPrefix(where, "postgres"):
		scheme, rest, ok := strings.Cut(where, "://")
		if !ok {
			return nil, fmt.Errorf("storage %q: not a postgresql:// URL", where)
		}
		scheme, _, _ = strings.Cut(scheme, "+")
		if scheme != "postgresql" && scheme != "postgres" {
			return nil, fmt.Errorf("storage %q: unknown scheme %s", where, scheme)
		}
		return OpenPostgres(ctx, "postgresql://"+rest)
	case strings.HasPrefix(where, "sqlite:///"):
		return OpenSQLite(ctx, strings.TrimPrefix(where, "sqlite:///"))
	}
	return OpenSQLite(ctx, where)
}

// OpenPostgres opens (creating the schema if needed) an Optuna database on
// PostgreSQL.
func OpenPostgres(ctx context.Context, url string) (*SQL, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(url), err)
	}
	s := &SQL{db: db, path: Redact(url), pg: true}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	return s, nil
}

// Redact hides a password in a URL.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	user, _, hasPass := strings.Cut(userinfo, ":")
	if hasPass {
		return scheme + "://" + user + ":***@" + host
	}
	return url
}

var _ Storage = (*SQL)(nil)

// timeLayout is how SQLAlchemy writes DATETIME on SQLite. Values are naive
// UTC, as Optuna 5 writes them.
const timeLayout = "2006-01-02 15:04:05.000000"

// OpenSQLite opens (creating if needed) an Optuna SQLite database at path.
// A database made by Optuna itself is used as is.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("study storage: %w", err)
		}
	}
	// Immediate transactions take the write lock up front, so the trial
	// number count and the insert cannot interleave with another writer.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(0)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &SQL{db: db, path: path}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func (s *SQL) Close() error { return s.db.Close() }

func (s *SQL) init(ctx context.Context) error {
	var n int
	check := `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='studies'`
	ddls := sqliteDDL
	if s.pg {
		check = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'studies'`
		ddls = postgresDDL
	}
	if err := s.db.QueryRowContext(ctx, check).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return s.tx(ctx, func(tx *sql.Tx) error {
			for _, ddl := range ddls {
				if _, err := tx.ExecContext(ctx, ddl); err != nil {
					return fmt.Errorf("create schema: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)`), schemaVersion, libraryVersion); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO alembic_version (version_num) VALUES (?)`), alembicHead)
			return err
		})
	}
	var head string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT version_num FROM alembic_version`)).Scan(&head)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Python Optuna stamps an unstamped DB itself; so do we.
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO alembic_version (version_num) VALUES (?)`), alembicHead)
		return err
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	case head != alembicHead:
		where := s.path
		if !s.pg {
			where = "sqlite:///" + where
		}
		return fmt.Errorf("the database has Optuna schema %s; this tool uses %s (Optuna >= 3.2): run `optuna storage upgrade --storage %s`", head, alembicHead, where)
	}
	return nil
}

// insertID runs an INSERT and returns the new row's key.
func (s *SQL) insertID(ctx context.Context, tx *sql.Tx, query, key string, args ...any) (int64, error) {
	if s.pg {
		var id int64
		err := tx.QueryRowContext(ctx, s.q(query+" RETURNING "+key), args...).Scan(&id)
		return id, err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *SQL) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// now is the current time as Optuna 5 stores it: naive UTC (text in
// SQLAlchemy's layout on SQLite, a timestamp without time zone on PostgreSQL).
func (s *SQL) now() any {
	t := time.Now().UTC()
	if s.pg {
		return t.Round(time.Microsecond)
	}
	return t.Format(timeLayout)
}

func parseTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t.UTC()
	case string:
		for _, layout := range []string{timeLayout, "2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p
			}
		}
	case []byte:
		return parseTime(string(t))
	}
	return time.Time{}
}

func (s *SQL) CreateStudy(ctx context.Context, name string, dirs []Direction) (*Info, error) {
	if len(dirs) == 0 {
		return nil, errors.New("create study: no directions")
	}
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM studies WHERE study_name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %q", ErrStudyExists, name)
		}
		var err error
		if id, err = s.insertID(ctx, tx, `INSERT INTO studies (study_name) VALUES (?)`, "study_id", name); err != nil {
			return err
		}
		for i, d := range dirs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)`), string(d), id, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create study: %w", err)
	}
	return s.LoadStudy(ctx, name)
}

func (s *SQL) LoadStudy(ctx context.Context, name string) (*Info, error) {
	info := &Info{Name: name, UserAttrs: map[string]any{}, SystemAttrs: map[string]any{}}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT study_id FROM studies WHERE study_name = ?`), name).Scan(&info.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q in %s", ErrStudyNotFound, name, s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("load study: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective`), info.ID)
	if err != nil {
		return nil, fmt.Errorf("load study: %w", err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		info.Directions = append(info.Directions, Direction(d))
	}
	rows.Close()
	for _, t := range []struct {
		table string
		dst   map[string]any
	}{{"study_user_attributes", info.UserAttrs}, {"study_system_attributes", info.SystemAttrs}} {
		if err := s.readAttrs(ctx, `SELECT "key", value_json FROM `+t.table+` WHERE study_id = ?`, []any{info.ID}, func(_ int64, k string, v any) { t.dst[k] = v }); err != nil {
			return nil, fmt.Errorf("load study: %w", err)
		}
	}
	return info, nil
}

func (s *SQL) DeleteStudy(ctx context.Context, name string) error {
	info, err := s.LoadStudy(ctx, name)
	if err != nil {
		return err
	}
	trialChildren := []string{"trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes", "trial_heartbeats"}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range trialChildren {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE trial_id IN (SELECT trial_id FROM trials WHERE study_id = ?)`), info.ID); err != nil {
				return fmt.Errorf("delete study %q: %s: %w", name, table, err)
			}
		}
		for _, table := range []string{"trials", "study_directions", "study_user_attributes", "study_system_attributes", "studies"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE study_id = ?`), info.ID); err != nil {
				return fmt.Errorf("delete study %q: %s: %w", name, table, err)
			}
		}
		return nil
	})
}

func (s *SQL) StudyNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT study_name FROM studies ORDER BY study_id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out, rows.Err()
}

// readAttrs scans (owner id, key, value_json) rows.
func (s *SQL) readAttrs(ctx context.Context, query string, args []any, f func(owner int64, key string, v any)) error {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		var owner int64
		var key, raw string
		if len(cols) == 3 {
			err = rows.Scan(&owner, &key, &raw)
		} else {
			err = rows.Scan(&key, &raw)
		}
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			v = raw
		}
		f(owner, key, v)
	}
	return rows.Err()
}

func (s *SQL) SetStudyAttr(ctx context.Context, studyID int64, system bool, key string, value any) error {
	table := "study_user_attributes"
	if system {
		table = "study_system_attributes"
	}
	return s.upsertAttr(ctx, table, "study_id", studyID, key, value)
}

func (s *SQL) SetTrialAttr(ctx context.Context, trialID int64, system bool, key string, value any) error {
	table := "trial_user_attributes"
	if system {
		table = "trial_system_attributes"
	}
	return s.upsertAttr(ctx, table, "trial_id", trialID, key, value)
}

func (s *SQL) upsertAttr(ctx context.Context, table, owner string, id int64, key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("attribute %s: %w", key, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE `+table+` SET value_json = ? WHERE `+owner+` = ? AND "key" = ?`), string(b), id, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO `+table+` (`+owner+`, "key", value_json) VALUES (?, ?, ?)`), id, key, string(b))
		return err
	})
}

func (s *SQL) CreateTrial(ctx context.Context, studyID int64, state State) (int64, int, error) {
	if state != Running && state != Waiting {
		return 0, 0, fmt.Errorf("create trial: state %s: a new trial is RUNNING or WAITING", state)
	}
	var id int64
	var number int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var start any
		if state == Running {
			start = s.now()
		}
		if s.pg {
			// Serialises numbering per study, as Optuna does (SQLite locks the whole DB).
			if _, err := tx.ExecContext(ctx, s.q(`SELECT study_id FROM studies WHERE study_id = ? FOR UPDATE`), studyID); err != nil {
				return err
			}
		}
		var err error
		if id, err = s.insertID(ctx, tx, `INSERT INTO trials (number, study_id, state, datetime_start) VALUES (NULL, ?, ?, ?)`, "trial_id", studyID, string(state), start); err != nil {
			return err
		}
		// Optuna's rule: the number is the count of the study's earlier trials.
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM trials WHERE study_id = ? AND trial_id < ?`), studyID, id).Scan(&number); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE trials SET number = ? WHERE trial_id = ?`), number, id)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("create trial: %w", err)
	}
	return id, number, nil
}

func (s *SQL) SetParams(ctx context.Context, trialID int64, params []Param) error {
	for _, p := range params {
		if !p.Dist.Contains(p.Internal) {
			return fmt.Errorf("set param %s: %v is outside %s", p.Name, p.Internal, p.Dist)
		}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, p := range params {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)`), trialID, p.Name, p.Internal, p.Dist.JSON()); err != nil {
				return fmt.Errorf("set param %s: %w", p.Name, err)
			}
		}
		return nil
	})
}

func (s *SQL) SetParam(ctx context.Context, trialID int64, name string, internal float64, d space.Distribution) error {
	if !d.Contains(internal) {
		return fmt.Errorf("set param %s: %v is outside %s", name, internal, d)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)`), trialID, name, internal, d.JSON())
	if err != nil {
		return fmt.Errorf("set param %s: %w", name, err)
	}
	return nil
}

func valueRow(v float64) (any, string, error) {
	switch {
	case math.IsNaN(v):
		return nil, "", errors.New("NaN is not a valid objective value")
	case math.IsInf(v, 1):
		return nil, "INF_POS", nil
	case math.IsInf(v, -1):
		return nil, "INF_NEG", nil
	}
	return v, "FINITE", nil
}

func (s *SQL) FinishTrial(ctx context.Context, trialID int64, state State, values []float64) error {
	if !state.Finished() {
		return fmt.Errorf("finish trial: %s is not a final state", state)
	}
	if state != Complete && len(values) > 0 {
		return fmt.Errorf("finish trial: only a COMPLETE trial has values")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ? AND state IN ('RUNNING', 'WAITING')`), string(state), s.now(), trialID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("finish trial %d: %w", trialID, ErrTrialFinished)
		}
		for i, v := range values {
			val, typ, err := valueRow(v)
			if err != nil {
				return fmt.Errorf("finish trial %d: objective %d: %w", trialID, i, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)`), trialID, i, val, typ); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *SQL) SetIntermediate(ctx context.Context, trialID int64, step int, value float64) error {
	val, typ := any(value), "FINITE"
	switch {
	case math.IsNaN(value):
		val, typ = nil, "NAN"
	case math.IsInf(value, 1):
		val, typ = nil, "INF_POS"
	case math.IsInf(value, -1):
		val, typ = nil, "INF_NEG"
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT state FROM trials WHERE trial_id = ?`), trialID).Scan(&state); err != nil {
			return err
		}
		if State(state).Finished() {
			return ErrTrialFinished
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE trial_intermediate_values SET intermediate_value = ?, intermediate_value_type = ? WHERE trial_id = ? AND step = ?`), val, typ, trialID, step)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES (?, ?, ?, ?)`), trialID, step, val, typ)
		return err
	})
	if err != nil {
		return fmt.Errorf("trial %d: intermediate value at step %d: %w", trialID, step, err)
	}
	return nil
}

func (s *SQL) Trials(ctx context.Context, studyID int64) ([]Trial, error) {
	return s.TrialsAfter(ctx, studyID, 0)
}

// wanted selects the trials of a study that TrialsAfter returns.
const wanted = `t.study_id = ? AND NOT (t.state IN ('COMPLETE', 'PRUNED', 'FAIL') AND t.trial_id <= ?)`

func (s *SQL) TrialsAfter(ctx context.Context, studyID, finishedUpTo int64) ([]Trial, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials t WHERE `+wanted+` ORDER BY number, trial_id`), studyID, finishedUpTo)
	if err != nil {
		return nil, fmt.Errorf("read trials: %w", err)
	}
	var trials []Trial
	index := map[int64]int{}
	for rows.Next() {
		var t Trial
		var number sql.NullInt64
		var state string
		var start, complete any
		if err := rows.Scan(&t.ID, &number, &state, &start, &complete); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read trials: %w", err)
		}
		t.Number, t.State = int(number.Int64), State(state)
		t.Start, t.Complete = parseTime(start), parseTime(complete)
		t.Params, t.Dists = map[string]float64{}, map[string]space.Distribution{}
		t.UserAttrs, t.SystemAttrs = map[string]any{}, map[string]any{}
		index[t.ID] = len(trials)
		trials = append(trials, t)
	}
	rows.Close()
	if len(trials) == 0 {
		return nil, nil
	}
	// Child rows are fetched by trial ID, through their unique indexes, so a
	// read of the few trials after a cached prefix stays cheap.
	ids := make([]any, len(trials))
	for i, t := range trials {
		ids[i] = t.ID
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")"
		if err := s.readChildren(ctx, in, chunk, trials, index); err != nil {
			return nil, err
		}
	}
	return trials, nil
}

func (s *SQL) readChildren(ctx context.Context, in string, ids []any, trials []Trial, index map[int64]int) error {
	if err := s.readParams(ctx, in, ids, trials, index); err != nil {
		return err
	}
	if err := s.readValues(ctx, in, ids, trials, index); err != nil {
		return err
	}
	if err := s.readIntermediate(ctx, in, ids, trials, index); err != nil {
		return err
	}
	for _, a := range []struct {
		table  string
		system bool
	}{{"trial_user_attributes", false}, {"trial_system_attributes", true}} {
		q := `SELECT trial_id, "key", value_json FROM ` + a.table + ` WHERE trial_id IN ` + in
		err := s.readAttrs(ctx, q, ids, func(owner int64, k string, v any) {
			if i, ok := index[owner]; ok {
				if a.system {
					trials[i].SystemAttrs[k] = v
				} else {
					trials[i].UserAttrs[k] = v
				}
			}
		})
		if err != nil {
			return fmt.Errorf("read trial attributes: %w", err)
		}
	}
	return nil
}

func (s *SQL) readParams(ctx context.Context, in string, ids []any, trials []Trial, index map[int64]int) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT trial_id, param_name, param_value, distribution_json FROM trial_params WHERE trial_id IN `+in), ids...)
	if err != nil {
		return fmt.Errorf("read params: %w", err)
	}
	defer rows.Close()
	dists := map[string]space.Distribution{} // the same JSON repeats on every trial
	for rows.Next() {
		var id int64
		var name, dj string
		var v float64
		if err := rows.Scan(&id, &name, &v, &dj); err != nil {
			return fmt.Errorf("read params: %w", err)
		}
		d, ok := dists[dj]
		if !ok {
			if d, err = space.ParseJSON(dj); err != nil {
				return fmt.Errorf("trial %d param %s: %w", id, name, err)
			}
			dists[dj] = d
		}
		if i, ok := index[id]; ok {
			trials[i].Params[name], trials[i].Dists[name] = v, d
		}
	}
	return rows.Err()
}

func (s *SQL) readValues(ctx context.Context, in string, ids []any, trials []Trial, index map[int64]int) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT trial_id, objective, value, value_type FROM trial_values WHERE trial_id IN `+in+` ORDER BY trial_id, objective`), ids...)
	if err != nil {
		return fmt.Errorf("read values: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var obj int
		var v sql.NullFloat64
		var typ string
		if err := rows.Scan(&id, &obj, &v, &typ); err != nil {
			return fmt.Errorf("read values: %w", err)
		}
		x := v.Float64
		switch typ {
		case "INF_POS":
			x = math.Inf(1)
		case "INF_NEG":
			x = math.Inf(-1)
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		for len(trials[i].Values) <= obj {
			trials[i].Values = append(trials[i].Values, math.NaN())
		}
		trials[i].Values[obj] = x
	}
	return rows.Err()
}

func (s *SQL) readIntermediate(ctx context.Context, in string, ids []any, trials []Trial, index map[int64]int) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT trial_id, step, intermediate_value, intermediate_value_type FROM trial_intermediate_values WHERE trial_id IN `+in), ids...)
	if err != nil {
		return fmt.Errorf("read intermediate values: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var step int
		var v sql.NullFloat64
		var typ string
		if err := rows.Scan(&id, &step, &v, &typ); err != nil {
			return fmt.Errorf("read intermediate values: %w", err)
		}
		x := v.Float64
		switch typ {
		case "INF_POS":
			x = math.Inf(1)
		case "INF_NEG":
			x = math.Inf(-1)
		case "NAN":
			x = math.NaN()
		}
		if i, ok := index[id]; ok {
			if trials[i].Intermediate == nil {
				trials[i].Intermediate = map[int]float64{}
			}
			trials[i].Intermediate[step] = x
		}
	}
	return rows.Err()
}

func (s *SQL) FailRunning(ctx context.Context, studyID int64, reason string) (int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT trial_id FROM trials WHERE study_id = ? AND state = 'RUNNING'`), studyID)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if err := s.SetTrialAttr(ctx, id, false, AttrErrorType, "interrupted"); err != nil {
			return n, err
		}
		if err := s.SetTrialAttr(ctx, id, false, AttrErrorMessage, reason); err != nil {
			return n, err
		}
		if err := s.FinishTrial(ctx, id, Fail, nil); err != nil && !errors.Is(err, ErrTrialFinished) {
			return n, err
		}
		n++
	}
	return n, nil
}
