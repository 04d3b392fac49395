package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune"
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
	switch {
	case f.Storage != "":
		return f.Storage, nil
	case f.Config != "":
		return configStorage(g, f.Config)
	}
	if path := savedConfig(name); exists(path) {
		return configStorage(g, path)
	}
	if db := filepath.Join(tune.StudiesDir, name, "study.db"); exists(db) {
		return db, nil
	}
	return "", fmt.Errorf("study %s: no saved config or study.db under %s (run from the directory the study ran in, or give --storage URL or --config FILE)", name, filepath.Join(tune.StudiesDir, name))
}

// all are the storages to list: the one the flags name, else every one
// found under optuna_studies/.
func (f storageFlags) all(g *globals) ([]string, error) {
	if f.Storage != "" || f.Config != "" {
		s, err := f.where(g, "")
		return []string{s}, err
	}
	list, err := tune.Storages(func(dir string) (string, error) {
		return configStorage(g, filepath.Join(dir, "study_config.yaml"))
	})
	if err != nil {
		// One unreadable saved config hides only its own study.
		g.log.Warn(err.Error())
	}
	return list, nil
}

// logDir is where the study's trials log while they run: --log-dir, else
// the config's logging.file_path (--config, or the one saved with the
// study), else logs, as optimize chooses it.
func (f storageFlags) logDir(g *globals, name, flag string) string {
	if flag != "" {
		return flag
	}
	path := f.Config
	if path == "" {
		path = savedConfig(name)
	}
	if exists(path) {
		if cfg, _, err := loadStudy(g, path, 0); err == nil {
			return logDir("", cfg)
		}
	}
	return logDir("", nil)
}

func configStorage(g *globals, path string) (string, error) {
	cfg, _, err := loadStudy(g, path, 0)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		// loadStudy printed the problems: name the file for the caller.
		return "", fmt.Errorf("%s is not a valid study config", path)
	}
	if err != nil {
		return "", err
	}
	storage, _ := tune.Where(cfg)
	return storage, nil
}
