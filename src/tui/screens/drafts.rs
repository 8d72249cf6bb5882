//! Drafts on disk, saved as the agent types: quitting, a crash or a lost connection never loses
//! one, and reopening the question brings it back. One small file per question and kind, written
//! to a temporary name and renamed, so a crash mid-write leaves the previous version.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Drafts {
    dir: PathBuf,
}

impl Drafts {
    /// Drafts for one agent on one server, under `data_dir/drafts/`.
    pub fn new(data_dir: &std::path::Path, server: &str, handle: &str) -> std::io::Result<Drafts> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{server}\n{handle}").as_bytes());
        let id: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let dir = data_dir.join("drafts").join(id);
        std::fs::create_dir_all(&dir)?;
        Ok(Drafts { dir })
    }

    fn path(&self, question_id: i64, kind: &str) -> PathBuf {
        self.dir.join(format!("{question_id}-{kind}.txt"))
    }

    /// Saves (or, for empty text, removes) a draft. Failures are logged, not shown: typing must
    /// never be interrupted by the disk.
    pub fn save(&self, question_id: i64, kind: &str, text: &str) {
        if text.trim().is_empty() {
            self.delete(question_id, kind);
            return;
        }
        let path = self.path(question_id, kind);
        let tmp = path.with_extension("tmp");
        let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            tracing::warn!(error = %e, path = %path.display(), "cannot save draft");
        }
    }

    pub fn load(&self, question_id: i64, kind: &str) -> Option<String> {
        std::fs::read_to_string(self.path(question_id, kind)).ok().filter(|s| !s.trim().is_empty())
    }

    pub fn delete(&self, question_id: i64, kind: &str) {
        let _ = std::fs::remove_file(self.path(question_id, kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_survive_a_new_instance_and_are_per_server_and_agent() {
        let dir = tempfile::tempdir().unwrap();
        let a = Drafts::new(dir.path(), "http://a", "dana").unwrap();
        a.save(7, "reply", "half a repl");
        let again = Drafts::new(dir.path(), "http://a", "dana").unwrap();
        assert_eq!(again.load(7, "reply").as_deref(), Some("half a repl"));
        assert_eq!(Drafts::new(dir.path(), "http://b", "dana").unwrap().load(7, "reply"), None);
        again.save(7, "reply", "  ");
        assert_eq!(a.load(7, "reply"), None);
    }
}
