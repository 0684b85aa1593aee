//! Finds the workspace from a directory (nearest `images.yaml` upward, then the file with a
//! `workspace:` section), reads every member, and resolves images: names, paths, build args,
//! dependencies. Everything that is wrong is reported here, before any command is planned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::raw::{RawDefaults, RawFile, RawImage};
use super::typed::{Artifact, Bad, Publish, RunOptions};
use super::{
    check, error::parse_yaml, keyline, Component, Env, Image, Overrides, Settings, Stage,
    Workspace, DEFAULT_DOCKERFILE, DEFAULT_NAME, DEFAULT_PLATFORM, DEFAULT_TAG,
};
use crate::dockerfile::Dockerfile;
use crate::reference::{self, ImageRef};

pub const FILE: &str = "images.yaml";

pub fn load(cwd: &Path, overrides: &Overrides, env: &Env) -> anyhow::Result<Workspace> {
    check_directory(cwd)?;
    let start = find_upward(cwd).ok_or_else(|| {
        anyhow::anyhow!(
            "no `{FILE}` in `{}` or any directory above it; imagemk needs a workspace file (see the README's configuration reference)",
            cwd.display()
        )
    })?;
    let (root_file, root_raw) = find_root(&start)?;
    let root = root_file.parent().unwrap().to_path_buf();
    let ws_raw = root_raw.workspace.as_ref();
    let top = Layer {
        flags: overrides,
        env,
        workspace: &root_raw.defaults,
    };
    let settings = top.resolve(&RawDefaults::default())?;
    let files = member_files(&root, &root_file, &root_raw)?;
    let components = resolve_components(&files, &top)?;
    let current = current_component(&components, &start, &root_file)?;
    let images = resolve_images(&files, &components, &root)?;
    let protected_tags = protected_tags(ws_raw, &root_file)?;
    let aliases = super::aliases::resolve(
        &root_file,
        &ws_raw.map(|w| w.aliases.clone()).unwrap_or_default(),
        &components,
        &images,
    )?;
    Ok(Workspace {
        aliases,
        root,
        components,
        current,
        settings,
        registry: overrides
            .registry
            .clone()
            .or_else(|| env.get(&["REGISTRY", "CLOUD"]).map(String::from))
            .or_else(|| ws_raw.and_then(|w| w.registry.clone())),
        registry_asked: overrides.registry.is_some() || env.get(&["REGISTRY", "CLOUD"]).is_some(),
        registries: registries(ws_raw, &root_file)?,
        channels: ws_raw.map(|w| w.channels.clone()).unwrap_or_default(),
        protected_tags,
        publish: publish(ws_raw, &root_file)?,
        reuse: ws_raw.and_then(|w| w.reuse) == Some(super::raw::RawReuse::Registry),
        engine: ws_raw
            .and_then(|w| w.engine)
            .map(crate::engine::Engine::from),
        references: ws_raw.map(|w| w.references.clone()).unwrap_or_default(),
        index: super::Index::new(&images),
        images,
        variants: Vec::new(),
    })
}

/// `workspace.registries`, typed: a registry that lacks a field its kind needs (or names an
/// unknown kind) is an error of the file, whatever the command.
fn registries(
    ws_raw: Option<&super::raw::RawWorkspace>,
    root_file: &Path,
) -> anyhow::Result<BTreeMap<String, crate::registry::Registry>> {
    let raw = ws_raw.map(|w| &w.registries);
    raw.into_iter()
        .flatten()
        .map(|(name, r)| {
            crate::registry::Registry::from_raw(name, r)
                .map(|reg| (name.clone(), reg))
                .map_err(|e| {
                    let place = keyline::place(root_file, &["registries", name]);
                    anyhow::anyhow!("{place}: {e:#}")
                })
        })
        .collect()
}

/// `workspace.publish`, typed: a refused tag that is no tag, or an extra tag no value can
/// make valid, is an error of the file, whatever the command.
fn publish(ws_raw: Option<&super::raw::RawWorkspace>, root_file: &Path) -> anyhow::Result<Publish> {
    let Some(raw) = ws_raw.map(|w| &w.publish) else {
        return Ok(Publish::default());
    };
    Publish::from_raw(raw).map_err(|bad| {
        let mut keys = vec!["publish"];
        keys.extend(bad.at.iter().map(String::as_str));
        anyhow::anyhow!("{}: {}", keyline::place(root_file, &keys), bad.message)
    })
}

/// An image's `run:` and `artifacts:`, typed; a bad value is an error of `comp`'s file at
/// its line.
fn run_and_artifacts(
    comp: &Component,
    key: &str,
    raw: &RawImage,
) -> anyhow::Result<(RunOptions, Vec<Artifact>)> {
    let err = |section: &str, bad: Bad, prefix: String| {
        let mut keys = vec!["images", key, section];
        keys.extend(bad.at.iter().map(String::as_str));
        let place = keyline::place(&comp.file, &keys);
        anyhow::anyhow!("{place}: {prefix}{}", bad.message)
    };
    let id = format!("{}/{key}", comp.name);
    let run = RunOptions::from_raw(&raw.run.clone().unwrap_or_default(), &id)
        .map_err(|bad| err("run", bad, String::new()))?;
    let artifacts = raw
        .artifacts
        .iter()
        .enumerate()
        .map(|(i, a)| Artifact::from_raw(a, i, &comp.dir))
        .collect::<Result<_, _>>()
        .map_err(|bad| err("artifacts", bad, format!("images.{key}.")))?;
    Ok((run, artifacts))
}

fn check_directory(cwd: &Path) -> anyhow::Result<()> {
    if cwd.is_dir() {
        return Ok(());
    }
    let what = if cwd.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    bail!(
        "directory `{}` {what}; give an existing directory to `-C`",
        cwd.display()
    )
}

/// The root file and every member's file, each with its parsed contents, root first.
fn member_files(
    root: &Path,
    root_file: &Path,
    root_raw: &RawFile,
) -> anyhow::Result<Vec<(PathBuf, RawFile)>> {
    let members = root_raw
        .workspace
        .as_ref()
        .map(|w| w.members.as_slice())
        .unwrap_or(&[]);
    let mut files = vec![(root_file.to_path_buf(), root_raw.clone_shallow())];
    for dir in member_dirs(root, members)? {
        let file = dir.join(FILE);
        if file != root_file {
            files.push((file.clone(), read_file(&file)?));
        }
    }
    Ok(files)
}

/// One component per file: its name (unique), directory and settings.
fn resolve_components(files: &[(PathBuf, RawFile)], top: &Layer) -> anyhow::Result<Vec<Component>> {
    let mut components: Vec<Component> = Vec::new();
    for (file, raw) in files {
        let dir = file.parent().unwrap().to_path_buf();
        let name = match &raw.component {
            Some(n) => n.clone(),
            None => dir_name(&dir),
        };
        check_component_name(&name, file)?;
        if let Some(other) = components.iter().find(|c| c.name == name) {
            bail!(
                "component `{name}` is defined twice: in `{}` and `{}`; give one a different `component:` name",
                other.file.display(),
                file.display()
            );
        }
        components.push(Component {
            name,
            dir,
            file: file.clone(),
            settings: top.resolve(&raw.defaults)?,
        });
    }
    Ok(components)
}

/// The component of `start`, the nearest file above the directory imagemk acts in.
fn current_component(
    components: &[Component],
    start: &Path,
    root_file: &Path,
) -> anyhow::Result<usize> {
    components
        .iter()
        .position(|c| c.file == start)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` is not a member of the workspace `{}`; add its directory to `workspace.members`",
                start.display(),
                root_file.display()
            )
        })
}

/// Every image of every file, resolved and checked: unique names, artifact directories,
/// dependencies, no cycle.
fn resolve_images(
    files: &[(PathBuf, RawFile)],
    components: &[Component],
    root: &Path,
) -> anyhow::Result<Vec<Image>> {
    let mut images = Vec::new();
    for (ci, (_, raw)) in files.iter().enumerate() {
        for (key, img) in &raw.images {
            images.push(resolve_image(ci, &components[ci], key, img)?);
        }
    }
    check_unique_names(&images, components)?;
    check_artifact_dirs(&images, components, root)?;
    resolve_depends(&mut images, files, components)?;
    check_cycles(&images)?;
    Ok(images)
}

/// `workspace.protected_tags` (default `latest`, `prod`); an input-digest tag is refused.
fn protected_tags(
    ws_raw: Option<&super::raw::RawWorkspace>,
    root_file: &Path,
) -> anyhow::Result<Vec<String>> {
    let tags = ws_raw
        .and_then(|w| w.protected_tags.clone())
        .unwrap_or_else(|| vec!["latest".into(), "prod".into()]);
    if let Some(t) = tags
        .iter()
        .find(|t| crate::registry::reuse::is_input_tag(t))
    {
        bail!(
            "`workspace.protected_tags` in `{}` lists `{t}`, an input-digest tag: those name an image's inputs, not a release, and clean-up must be able to age them out (`--match '^in-' --older-than 14d`); remove it from the list",
            root_file.display()
        );
    }
    Ok(tags)
}

impl RawFile {
    fn clone_shallow(&self) -> RawFile {
        RawFile {
            workspace: None,
            defaults: self.defaults.clone(),
            component: self.component.clone(),
            images: self.images.clone(),
        }
    }
}

fn find_upward(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join(FILE)).find(|f| f.is_file())
}

fn read_file(path: &Path) -> anyhow::Result<RawFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    parse_yaml(path, &text)
}

/// The nearest file at or above `start` that has a `workspace:` section, or `start` itself.
fn find_root(start: &Path) -> anyhow::Result<(PathBuf, RawFile)> {
    let first = read_file(start)?;
    if first.workspace.is_some() {
        return Ok((start.to_path_buf(), first));
    }
    let mut dir = start.parent().and_then(Path::parent);
    while let Some(d) = dir {
        let file = d.join(FILE);
        if file.is_file() {
            let raw = read_file(&file)?;
            if raw.workspace.is_some() {
                return Ok((file, raw));
            }
        }
        dir = d.parent();
    }
    Ok((start.to_path_buf(), first))
}

fn member_dirs(root: &Path, members: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = BTreeSet::new();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let Some(root_text) = root.to_str() else {
        bail!(
            "the workspace path `{}` is not valid UTF-8, so `workspace.members` cannot be matched in it; move the workspace to a UTF-8 path",
            root.display()
        );
    };
    // The root is literal text: `[`, `*` or `?` in it are not pattern characters.
    let base = glob::Pattern::escape(root_text);
    for pattern in members {
        let full = Path::new(&base).join(pattern);
        let paths = glob::glob(&full.to_string_lossy())
            .map_err(|e| anyhow::anyhow!("member pattern `{pattern}` is not a valid glob: {e}"))?;
        let mut matched = false;
        for path in paths.flatten() {
            if path.join(FILE).is_file() {
                dirs.insert(path);
                matched = true;
            }
        }
        if !matched {
            bail!(
                "member pattern `{pattern}` in `{}` matches no directory with an `{FILE}`",
                root.join(FILE).display()
            );
        }
    }
    Ok(dirs.into_iter().collect())
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "root".into())
}

fn check_component_name(name: &str, file: &Path) -> anyhow::Result<()> {
    check::name("component", name).map_err(|_| {
            anyhow::anyhow!(
                "component name `{name}` (from `{}`) must be lowercase letters, digits, `.`, `_` or `-`; set `component:` in that file",
                file.display()
            )
        })
}

/// The layers above a component file: flags, environment, workspace defaults.
struct Layer<'a> {
    flags: &'a Overrides,
    env: &'a Env,
    workspace: &'a RawDefaults,
}

impl Layer<'_> {
    fn pick(
        &self,
        flag: &Option<String>,
        env: &[&str],
        component: &Option<String>,
        workspace: &Option<String>,
    ) -> Option<String> {
        flag.clone()
            .or_else(|| self.env.get(env).map(String::from))
            .or_else(|| component.clone())
            .or_else(|| workspace.clone())
    }

    fn resolve(&self, comp: &RawDefaults) -> anyhow::Result<Settings> {
        let ws = self.workspace;
        let f = self.flags;
        let tag = self
            .pick(&f.tag, &["IMAGE_TAG"], &comp.tag, &ws.tag)
            .unwrap_or_else(|| DEFAULT_TAG.into());
        reference::check_tag(&tag).map_err(|e| anyhow::anyhow!("invalid image tag: {e}"))?;
        let name_template = self
            .pick(&None, &[], &comp.name, &ws.name)
            .unwrap_or_else(|| DEFAULT_NAME.into());
        check_template(&name_template)?;
        let platform = self
            .pick(
                &f.platform,
                &["PLATFORM", "DTYPE"],
                &comp.platform,
                &ws.platform,
            )
            .unwrap_or_else(|| DEFAULT_PLATFORM.into());
        check::name("platform", &platform).map_err(anyhow::Error::msg)?;
        let namespace = self
            .pick(&None, &["IMAGE_NAMESPACE"], &comp.namespace, &ws.namespace)
            .unwrap_or_else(|| "local".into());
        check_namespace(&namespace)?;
        // `plain` is the image without a variant (`--variant plain,debug`).
        let variant = self
            .pick(&f.variant, &["VARIANT"], &None, &None)
            .filter(|v| v != super::variants::PLAIN);
        let channel = self.pick(&f.channel, &["CHANNEL"], &comp.channel, &ws.channel);
        for (what, value) in [("variant", &variant), ("channel", &channel)] {
            if let Some(v) = value {
                check::name(what, v).map_err(anyhow::Error::msg)?;
            }
        }
        Ok(Settings {
            namespace,
            platform,
            tag,
            name_template,
            variant,
            channel,
            user: self.env.user(),
        })
    }
}

/// The namespace starts every default name: lowercase path components, optionally after a
/// registry host.
fn check_namespace(namespace: &str) -> anyhow::Result<()> {
    if namespace.chars().any(char::is_uppercase) {
        bail!(
            "namespace `{}` must be lowercase: docker repository names are lowercase",
            reference::shorten(namespace, 60)
        );
    }
    reference::check_repository(namespace).map_err(|e| anyhow::anyhow!("invalid namespace: {e}"))
}

/// A name template must use `{tag}` (or `IMAGE_TAG` and `--tag` would be ignored).
fn check_template(template: &str) -> anyhow::Result<()> {
    if !template.contains("{tag}") {
        bail!(
            "name template `{}` has no `{{tag}}`, so `IMAGE_TAG` and `--tag` would be ignored; end it with `:{{tag}}`",
            reference::shorten(template, 100)
        );
    }
    Ok(())
}

fn resolve_image(ci: usize, comp: &Component, key: &str, raw: &RawImage) -> anyhow::Result<Image> {
    let s = &comp.settings;
    let kind = raw.kind.clone().unwrap_or_else(|| key.to_string());
    let variant = s
        .variant
        .as_ref()
        .and_then(|v| raw.variants.get(v).map(|rv| (v, rv)));
    let suffix = variant.map(|(v, rv)| suffix(v, rv)).unwrap_or_default();
    let vars = template_vars(comp, key, &kind, suffix);
    let (name, dockerfile_rel) = render_names(comp, key, raw, &vars)?;
    let dockerfile = comp.dir.join(&dockerfile_rel);
    let context = comp.dir.join(raw.context.as_deref().unwrap_or("."));

    let mut problems = path_problems(comp, key, &dockerfile, &context);
    let mut args = raw.args.clone();
    if let Some((_, rv)) = variant {
        args.extend(rv.args.clone());
    }
    let stage = stages(comp, &context, raw);
    problems.extend(missing_host_files(&comp.name, key, &stage, raw));
    let (run, artifacts) = run_and_artifacts(comp, key, raw)?;
    Ok(Image {
        id: format!("{}/{key}", comp.name),
        component: ci,
        key: key.to_string(),
        kind,
        name,
        dockerfile,
        context,
        args,
        labels: raw.labels.clone(),
        target: raw.target.clone(),
        depends: Vec::new(),
        stage,
        variant: variant.map(|(v, _)| v.clone()),
        run,
        artifacts,
        host: raw.host.as_ref().map(super::typed::Host::from_raw),
        timeout: raw.timeout,
        problems,
        run_args: BTreeMap::new(),
        variants: raw.variants.keys().cloned().collect(),
    })
}

/// The values a name template and a `dockerfile:` may use, for image `key` of `comp`.
fn template_vars(
    comp: &Component,
    key: &str,
    kind: &str,
    suffix: String,
) -> BTreeMap<&'static str, String> {
    let s = &comp.settings;
    [
        ("namespace", s.namespace.clone()),
        ("kind", kind.to_string()),
        ("component", comp.name.clone()),
        ("platform", s.platform.clone()),
        ("tag", s.tag.clone()),
        ("variant", suffix),
        ("image", key.to_string()),
    ]
    .into_iter()
    .collect()
}

/// The image's local name and its Dockerfile's path (relative to the component's
/// directory), rendered from `vars`; each variant's name is checked too.
fn render_names(
    comp: &Component,
    key: &str,
    raw: &RawImage,
    vars: &BTreeMap<&str, String>,
) -> anyhow::Result<(ImageRef, String)> {
    let s = &comp.settings;
    let at = || format!("image `{key}` in `{}`", comp.file.display());
    let name = reference::render(&s.name_template, vars)
        .and_then(|n| ImageRef::parse(&n))
        .map_err(|e| anyhow::anyhow!("{}: the local name is invalid: {e}", at()))?;
    check_variant_names(&s.name_template, vars, raw)
        .map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
    let dockerfile_rel = reference::render(
        raw.dockerfile.as_deref().unwrap_or(DEFAULT_DOCKERFILE),
        vars,
    )
    .map_err(|e| anyhow::anyhow!("{}: `dockerfile`: {e}", at()))?;
    Ok((name, dockerfile_rel))
}

/// The `stage:` entries of an image: `from` under the component, `to` under the context.
fn stages(comp: &Component, context: &Path, raw: &RawImage) -> Vec<Stage> {
    raw.stage
        .iter()
        .map(|st| Stage {
            from: comp.dir.join(&st.from),
            to: context.join(&st.to),
            hint: st.hint.clone(),
        })
        .collect()
}

/// A missing Dockerfile or context directory: reported only when the image is selected.
fn path_problems(comp: &Component, key: &str, dockerfile: &Path, context: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    if !dockerfile.is_file() {
        problems.push(format!(
            "image `{}/{key}` has no Dockerfile at `{}`; create it or set `dockerfile:` in `{}`",
            comp.name,
            dockerfile.display(),
            comp.file.display()
        ));
    }
    if !context.is_dir() {
        problems.push(format!(
            "image `{}/{key}` has no build context directory `{}`; create it or fix `context:` in `{}`",
            comp.name,
            context.display(),
            comp.file.display()
        ));
    }
    problems
}

/// The host files (`stage: from:` written as an absolute path, or given a `hint:`) that do not
/// exist: a build cannot make them, so a selected image that needs one is refused before any
/// docker command, with the hint when the workspace gives one.
fn missing_host_files(component: &str, key: &str, stage: &[Stage], raw: &RawImage) -> Vec<String> {
    stage
        .iter()
        .zip(&raw.stage)
        .filter(|(st, rs)| {
            (Path::new(&rs.from).is_absolute() || rs.hint.is_some()) && !st.from.exists()
        })
        .map(|(st, _)| {
            let fix = match &st.hint {
                Some(h) => format!("\nhint: {h}"),
                None => String::new(),
            };
            format!(
                "image `{component}/{key}` stages `{}` from this machine, which does not have it; install it or fix `stage:`{fix}",
                st.from.display()
            )
        })
        .collect()
}

/// What `{variant}` becomes for variant `v`.
fn suffix(v: &str, rv: &super::raw::RawVariant) -> String {
    rv.suffix.clone().unwrap_or_else(|| format!("-{v}"))
}

/// Every variant of an image (the plain one included) must get a name of its own, or a
/// variant build would overwrite the plain image.
fn check_variant_names(
    template: &str,
    vars: &BTreeMap<&str, String>,
    raw: &RawImage,
) -> anyhow::Result<()> {
    if raw.variants.is_empty() {
        return Ok(());
    }
    let mut vars = vars.clone();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let plain = std::iter::once(("(plain)".to_string(), String::new()));
    let all = plain.chain(
        raw.variants
            .iter()
            .map(|(v, rv)| (format!("`{v}`"), suffix(v, rv))),
    );
    for (label, sfx) in all {
        vars.insert("variant", sfx);
        let name = reference::render(template, &vars)?;
        if let Some(other) = seen.insert(name.clone(), label.clone()) {
            let other = if other == "(plain)" {
                "the plain image".to_string()
            } else {
                format!("variant {other}")
            };
            bail!(
                "variant {label} gets the same name as {other}, `{name}`, so one build would overwrite the other; put `{{variant}}` in the name template or give the variant a distinct `suffix`"
            );
        }
    }
    Ok(())
}

/// An artifact destination must not be (or contain) a component directory or the workspace
/// root: the copy replaces its destination.
fn check_artifact_dirs(
    images: &[Image],
    components: &[Component],
    root: &Path,
) -> anyhow::Result<()> {
    for img in images {
        let comp = &components[img.component];
        for a in &img.artifacts {
            let dest = crate::fsx::lexical(&a.to);
            let hit = components
                .iter()
                .map(|c| c.dir.as_path())
                .chain([root])
                .find(|d| d.starts_with(&dest) || !dest.starts_with(root));
            if let Some(dir) = hit {
                bail!(
                    "image `{}` in `{}`: artifact destination `{}` would replace `{}`, a component directory or the workspace; pick a path inside the component directory",
                    img.id,
                    comp.file.display(),
                    a.written,
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

fn check_unique_names(images: &[Image], components: &[Component]) -> anyhow::Result<()> {
    let mut seen: BTreeMap<&ImageRef, &Image> = BTreeMap::new();
    for img in images {
        if let Some(other) = seen.insert(&img.name, img) {
            bail!(
                "images `{}` (in `{}`) and `{}` (in `{}`) both get the name `{}`; give one another `kind` or change the name template",
                other.id,
                components[other.component].file.display(),
                img.id,
                components[img.component].file.display(),
                img.name
            );
        }
    }
    Ok(())
}

/// Fills `depends` from the config and from the Dockerfiles, and adds the automatic build args
/// (`IMAGE_TAG`, `PLATFORM`, `NAMESPACE`) that a Dockerfile declares.
fn resolve_depends(
    images: &mut [Image],
    files: &[(PathBuf, RawFile)],
    components: &[Component],
) -> anyhow::Result<()> {
    let by_name: BTreeMap<String, usize> = images
        .iter()
        .enumerate()
        .map(|(i, img)| (img.name.to_string(), i))
        .collect();
    let snapshot = images.to_vec();
    let by_id = super::Index::new(&snapshot).by_id;
    for (i, img) in images.iter_mut().enumerate() {
        let ci = img.component;
        let raw = &files[ci].1.images[&img.key];
        let mut deps = BTreeSet::new();
        for spec in &raw.depends {
            let id = match spec.split_once('/') {
                Some(_) => spec.clone(),
                None => format!("{}/{spec}", components[ci].name),
            };
            let known = by_id.get(&id).copied().map(Ok);
            let d = known
                .unwrap_or_else(|| super::resolve_spec(components, &snapshot, spec, ci))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "image `{}` in `{}` depends on `{spec}`: {e}",
                        img.id,
                        components[ci].file.display()
                    )
                })?;
            deps.insert(d);
        }
        let named = dockerfile_depends(img, &components[ci].settings, &by_name);
        deps.extend(named.into_iter().filter(|&d| d != i));
        img.depends = deps.into_iter().collect();
    }
    Ok(())
}

/// What the Dockerfile of `img` adds: the workspace images (by index in `by_name`) its `FROM`
/// and `COPY --from` lines name, the automatic build args it declares (`IMAGE_TAG`,
/// `PLATFORM`, `NAMESPACE`, from `s`), and a problem per `COPY --from` with a variable.
fn dockerfile_depends(
    img: &mut Image,
    s: &Settings,
    by_name: &BTreeMap<String, usize>,
) -> Vec<usize> {
    let Some(text) = crate::dockerfile::read_text(&img.dockerfile) else {
        return Vec::new();
    };
    let df = Dockerfile::parse(&text);
    for op in &df.copy_from_vars {
        img.problems.push(format!(
            "`{}`: `COPY --from={op}` uses a variable, which docker's legacy builder does not expand (\"invalid from flag value\"); name the stage or image literally, or add `FROM {op} AS <stage>` and copy `--from=<stage>`",
            img.dockerfile.display()
        ));
    }
    for (k, v) in [
        ("IMAGE_TAG", &s.tag),
        ("PLATFORM", &s.platform),
        ("NAMESPACE", &s.namespace),
    ] {
        if df.args.contains_key(k) && !img.args.contains_key(k) {
            img.args.insert(k.to_string(), v.clone());
        }
    }
    df.expanded_refs(&img.args)
        .into_iter()
        .filter_map(|r| ImageRef::parse(&r).ok())
        .filter_map(|r| by_name.get(&r.to_string()).copied())
        .collect()
}

fn check_cycles(images: &[Image]) -> anyhow::Result<()> {
    let deps: Vec<Vec<usize>> = images.iter().map(|i| i.depends.clone()).collect();
    let all = (0..images.len()).collect();
    if let Some(cycle) = crate::graph::find_cycle(&deps, &all) {
        let path: Vec<&str> = cycle.iter().map(|&i| images[i].id.as_str()).collect();
        bail!(
            "dependency cycle: {} (from `depends:` and `FROM` lines); remove one of these dependencies",
            path.join(" → ")
        );
    }
    Ok(())
}
