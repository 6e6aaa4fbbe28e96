//! The harness's command line.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: harness [--rounds N] [--seconds S] [--quick] [--no-callgrind]
               [--variants NAME,NAME...] [--patience S] [--out DIR]

  --rounds N        rounds of every variant x route, interleaved (default 5)
  --seconds S       seconds per wrk run (default 8)
  --quick           smoke test: 1 round of 2 s, no callgrind, results in
                    bench/target/quick unless --out is given
  --no-callgrind    skip the instructions-per-request runs
  --variants LIST   only these variants (default: all)
  --patience S      before each run, wait up to S seconds for the CPUs to be
                    90% idle (default 10; 0: never wait)
  --out DIR         where to write latest.md, latest.json and http.svg
                    (default bench/results)";

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub rounds: usize,
    pub seconds: u32,
    pub callgrind: bool,
    pub variants: Vec<String>,
    pub patience: u64,
    pub out: PathBuf,
}

impl Config {
    /// Parses the arguments after the program name. `bench` is the bench
    /// workspace's directory, which the default output directories are in.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        bench: &std::path::Path,
    ) -> Result<Config, String> {
        let mut args = args.into_iter();
        let (mut rounds, mut seconds, mut out) = (None, None, None);
        let mut patience = 10;
        let (mut quick, mut callgrind, mut variants) = (false, true, Vec::new());
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--rounds" => rounds = Some(number(&arg, &value()?)?),
                "--seconds" => seconds = Some(number(&arg, &value()?)?),
                "--quick" => quick = true,
                "--no-callgrind" => callgrind = false,
                "--variants" => variants.extend(value()?.split(',').map(str::to_owned)),
                "--patience" => patience = number(&arg, &value()?)?,
                "--out" => out = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(String::new()),
                _ => return Err(format!("unknown argument {arg}")),
            }
        }
        let config = Config {
            rounds: rounds.unwrap_or(if quick { 1 } else { 5 }),
            seconds: seconds.unwrap_or(if quick { 2 } else { 8 }),
            callgrind: callgrind && !quick,
            variants,
            patience,
            out: out.unwrap_or_else(|| match quick {
                true => bench.join("target/quick"),
                false => bench.join("results"),
            }),
        };
        if config.rounds == 0 || config.seconds == 0 {
            return Err("--rounds and --seconds must be at least 1".to_owned());
        }
        Ok(config)
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag} needs a number, not {text:?}"))
}
