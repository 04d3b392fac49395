package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/config"
)

// storageFlags choose a study storage: a URL or file, or a config's. With
// neither, a study is looked up where optimize keeps it by default: the
// storage of the config saved beside it, else optuna_studies/<study>/study.db.
type storageFlags struct {
	Storage string `help:"Study storage: a postgresql:// or sqlite:/// URL, or a SQLite file (default: where optimize keeps studies, under optuna_studies/)." placeholder:"URL" xor:"storage" aliases:"database-url"`
	Config  string `help:"Study config (YAML) whose storage to use." type:"existingfile" placeholder:"FILE" xor:"storage"`
}

// where is the storage holding study name ("" for any).
func (f storageFlags) where(g *globals, name string) (string, error) {
	where, _, err := f.resolve(g, name)
	return where, err
}

// resolve is the storage holding study name ("" for any) and the config
// that names it, nil when none does; each config is read once.
func (f storageFlags) resolve(g *globals, name string) (string, *config.Study, error) {
	switch {
	case f.Storage != "":
		return f.Storage, nil, nil
	case f.Config != "":
		return configStorage(g, f.Config)
	}
	if path := savedConfig(name); exists(path) {
		return configStorage(g, path)
	}
	if db := filepath.Join(tune.StudiesDir, name, "study.db"); exists(db) {
		return db, nil, nil
	}
	return "", nil, fmt.Errorf("study %s: no saved config or study.db under %s (run from the directory the study ran in, or give --storage URL or --config FILE)", name, filepath.Join(tune.StudiesDir, name))
}

// all are the storages to list: the one the flags name, else every one
// found under optuna_studies/.
func (f storageFlags) all(g *globals) ([]string, error) {
	if f.Storage != "" || f.Config != "" {
		s, err := f.where(g, "")
		return []string{s}, err
	}
	list, err := tune.Storages(func(dir string) (string, error) {
		storage, _, err := configStorage(g, filepath.Join(dir, "study_config.yaml"))
		return storage, err
	})
	if err != nil {
		// One unreadable saved config hides only its own study.
		g.log.Warn(err.Error())
	}
	return list, nil
}

func configStorage(g *globals, path string) (string, *config.Study, error) {
	cfg, _, err := loadStudy(g, path, 0)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		// loadStudy printed the problems: name the file for the caller.
		return "", nil, fmt.Errorf("%s is not a valid study config", path)
	}
	if err != nil {
		return "", nil, err
	}
	storage, _ := tune.Where(cfg)
	return storage, cfg, nil
}
