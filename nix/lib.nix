# pyrel's static Nix library.  Everything here reads data (the plan JSON that
# pyrel writes); no Nix code is ever generated from user strings.
#
# Every derivation is a plain `builtins.derivation` (no stdenv), so a stage's
# closure holds exactly what the lock names and nothing else.
{ system ? "x86_64-linux" }:
let
  inherit (builtins) map listToAttrs concatStringsSep attrNames;

  # Where a system's Debian packages keep the ELF loader and the libraries
  # (multiarch): programs ask for /<loaderDir>/<loader>, the loader itself and
  # the libraries are in lib/<triplet> and usr/lib/<triplet>.  The plan names
  # the system (`plan.system`, from the lock's Debian architecture); root.sh
  # gets the layout as platformEnv.  The table is data that pyrel reads too
  # (pywrap/execution/nixlib.py): it mounts the locked loader where programs
  # ask for it (the sandbox-paths of every build), and takes it out of libc6.
  platforms = builtins.fromJSON (builtins.readFile ./platforms.json);
  platform = platforms.${system} or (throw ("pyrel: no ELF loader layout known for system '${system}'"
    + " (nix/lib.nix knows ${concatStringsSep ", " (attrNames platforms)})"));
  # What root.sh needs of it, as the builder's environment.
  platformEnv = {
    elfLoader = platform.loader;
    multiarch = platform.triplet;
    # The root's library directories, in search order (the rpath of every ELF file).
    libraryDirs = [ "lib/${platform.triplet}" "usr/lib/${platform.triplet}" "lib" "usr/lib" ];
  };

  planFormat = import ./plan.nix;

  # A locked artifact (a .deb or a wheel), pinned by sha256.  pyrel fetches it
  # with the machine's own apt/pip and adds it with `nix-store --add-fixed`,
  # which yields this very store path, so Nix never needs to download it.
  fetchArtifact = artifact: derivation {
    name = artifact.storeName;
    system = "builtin";
    builder = "builtin:fetchurl";
    url = artifact.url;
    urls = [ artifact.url ];
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = artifact.sha256;
    executable = false;
    unpack = false;
    preferLocalBuild = true;
    impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  };

  # The one binary that cannot be unpacked inside Nix: busybox, taken by pyrel
  # from the pinned busybox-static .deb (hash-verified) and added to the store
  # by content.  A missing bootstrap fails loudly instead of building anything.
  bootstrapFor = bootstrap: derivation {
    name = bootstrap.storeName;
    inherit system;
    builder = "/pyrel-bootstrap-missing-run-pyrel-fetch";
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = bootstrap.narHash;
  };

  # The locked glibc's ELF loader, likewise taken by pyrel out of the pinned
  # libc6 .deb (hash-verified) and added by content: `pyrel build` mounts it
  # where programs ask for it, /<loaderDir>/<loader> (sandbox-paths, as /bin/sh).
  loaderFor = loader: derivation {
    name = loader.storeName;
    inherit system;
    builder = "/pyrel-bootstrap-missing-run-pyrel-fetch";
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = loader.narHash;
  };

  mkBusybox = bootstrapPath: derivation {
    name = "pyrel-busybox";
    inherit system;
    builder = "${bootstrapPath}/bin/busybox";
    args = [ "sh" "-eu" ./builders/sandboxed.sh ./builders/busybox.sh ];
    busybox = "${bootstrapPath}/bin/busybox";
  };

  unpackDeb = busybox: artifact: derivation {
    name = "${artifact.package}-${artifact.versionName}";
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/unpack-deb.sh ];
    PATH = "${busybox}/bin";
    deb = fetchArtifact artifact;
  };

  # One merged root per distinct set of system packages: files copied (not
  # linked, so Python finds its prefix), absolute symlinks pointed inside the
  # root, ELF files patched to load their libraries from it, bytecode compiled.
  mkRoot = { busybox, patchelfDebs, toolchain }: derivation ({
    name = "pyrel-root-${toolchain.id}";
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/root.sh ];
    PATH = "${busybox}/bin";
    shell = "${busybox}/bin/sh";
    debs = map (unpackDeb busybox) toolchain.debs;
    patchelfDebs = map (unpackDeb busybox) patchelfDebs;
    python = toolchain.python;
    compileDirs = toolchain.compile;
    dropDirs = toolchain.drop;
    # A C compiler in the root (see compilerEnv): root.sh makes its driver
    # default to --sysroot=<root> and adds the `cc`/`c++` names.
    compilerCc = if toolchain.compiler or null == null then "" else toolchain.compiler.cc;
    compilerCxx = if toolchain.compiler or null == null then "" else toolchain.compiler.cxx;
    compilerLibDir = if toolchain.compiler or null == null then "" else toolchain.compiler.libDir;
  } // platformEnv);

  unpackWheel = { busybox, root, python }: artifact: derivation {
    name = "${artifact.package}-${artifact.versionName}-unpacked";
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/unpack-wheel.sh ];
    PATH = "${busybox}/bin";
    wheel = fetchArtifact artifact;
    python = "${root}/${python}";
  };

  mkPythonEnv = { busybox, root, python, wheels, name }: derivation {
    name = "${name}-python";
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/python-env.sh ];
    PATH = "${busybox}/bin";
    python = "${root}/${python}";
    wheelSites = map (w: "${w}/site") wheels;
    consoleScripts = ./builders/console_scripts.py;
  };

  # The project's source: exactly the files pyrel listed (git-tracked files,
  # or all files minus the usual ignores), under a constant name so the store
  # path depends on the content only.
  projectSource = { root, files }:
    let
      wanted = listToAttrs (map (f: { name = f; value = true; }) files);
      prefixLength = builtins.stringLength (toString root) + 1;
      relative = path: builtins.substring prefixLength (-1) (toString path);
    in builtins.path {
      name = "source";
      path = root;
      filter = path: type: wanted ? ${relative path};
    };

  # A stage's ELF programs that ask for the standard loader (a wheel's manylinux
  # programs such as ninja's or cmake's, a program the stage compiles: configure's
  # and meson's checks, CMake's try_run) get the locked one, mounted at
  # `pyrelLoaderPath`, and find their libraries in the root (stage.sh adds
  # `pyrelLibraryPath` to LD_LIBRARY_PATH).  Nothing is patched, so what a stage
  # compiles stays as a Debian system would build it.
  loaderEnv = { root, loader }: if loader == null then { } else {
    sandboxLoader = "${loader}/${platform.loader}";
    pyrelLoaderPath = "/${platform.loaderDir}/${platform.loader}";
    pyrelLibraryPath = concatStringsSep ":" (map (dir: "${root}/${dir}") platformEnv.libraryDirs);
  };

  # CMake finds a wheel's package configuration (pybind11's, nanobind's, a
  # library's CMake files in its wheel) under a prefix it searches: each wheel
  # is unpacked in a store path of its own, so the prefixes are their sites (an
  # installer's one site-packages, which scikit-build-core gives CMake, holds
  # only the stage's .pth file).
  wheelsEnv = wheels: if wheels == [ ] then { } else {
    CMAKE_PREFIX_PATH = concatStringsSep ":" (map (wheel: "${wheel}/site") wheels);
  };

  sanitizeEnvName = name: builtins.replaceStrings [ "-" "." ] [ "_" "_" ] name;

  # A stage pyrel runs Sphinx for: the intersphinx inventories its lock pins,
  # each a fixed-output path like every other artifact, handed as JSON to
  # tools/sphinx_offline.py, which points Sphinx at them (`enabled = false`:
  # the stage's `intersphinx = false`, Sphinx loads no remote inventory).  Set
  # after the stage's env: a stage cannot point Sphinx elsewhere.
  intersphinxInventories = stage: map fetchArtifact (stage.intersphinx.inventories or [ ]);
  intersphinxEnv = stage: if !(stage ? intersphinx) then { } else {
    PYREL_INTERSPHINX = builtins.toJSON {
      inherit (stage.intersphinx) enabled;
      inventories = map (inventory: {
        inherit (inventory) name target url;
        path = "${fetchArtifact inventory}";
      }) stage.intersphinx.inventories;
    };
  };

  # The compiler variables that hold the root's store path (the plan holds the
  # flags, which do not).  --sysroot=<root>: headers, crt files and libc come
  # from the root, never the host.  A stage's env overrides each of them, and
  # LDSHARED follows an overridden CC.
  # pkg-config (pkgconf, when the stage locks it) reads the .pc files of the
  # root's packages, and prefixes their -I and -L with the root, as the
  # compiler's --sysroot does: configure scripts and meson find what the stage
  # declares in `system` (zlib, sqlite, openssl, libffi), never the host's.
  # The root's system directories are left out of its answers, as a Debian
  # system's are (`-lz`, no `-I<root>/usr/include`, which would break C++'s
  # #include_next).
  compilerEnv = { root, stage }:
    let
      compiler = stage.compiler or null;
      cc = stage.env.CC or "${root}/usr/bin/${compiler.cc} --sysroot=${root}";
      cxx = stage.env.CXX or "${root}/usr/bin/${compiler.cxx} --sysroot=${root}";
    in if compiler == null then { } else {
      CC = cc;
      LDSHARED = "${cc} -shared";
      PYREL_SYSROOT = "${root}";
      PKG_CONFIG_LIBDIR = concatStringsSep ":" (map (dir: "${root}/${dir}")
        [ "usr/lib/${platform.triplet}/pkgconfig" "usr/lib/pkgconfig" "usr/share/pkgconfig" ]);
      PKG_CONFIG_SYSROOT_DIR = "${root}";
      PKG_CONFIG_SYSTEM_INCLUDE_PATH = "${root}/usr/include:${root}/usr/include/${platform.triplet}";
      PKG_CONFIG_SYSTEM_LIBRARY_PATH = concatStringsSep ":" (map (dir: "${root}/${dir}") platformEnv.libraryDirs);
    } // (if compiler.cxx == "" then { } else {
      CXX = cxx;
      LDCXXSHARED = "${cxx} -shared";
    });

  # bootstrap: the pinned busybox binary pyrel mounts at /bin/sh in every sandbox
  # (nix-build --option sandbox-paths /bin/sh=<bootstrap>/bin/busybox); a declared
  # input, so that the .drv names it and the stage's closure counts it.
  # loader (or null): the locked ELF loader pyrel mounts at its standard path
  # the same way, named and counted likewise (see loaderEnv).
  # git (or null): the project's git metadata (pywrap/execution/vcs.py) for a stage
  # with `git`; stage.sh copies it to .git in the source tree.
  mkStage = { busybox, root, pythonEnv, source, inputs, stage, bootstrap, loader ? null, wheels ? [ ], git ? null }: derivation ({
    name = stage.derivationName;
    inherit system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/stage.sh ];
    PATH = concatStringsSep ":" (stage.pathDirs ++ (if pythonEnv == null then [ ] else [ "${pythonEnv}/bin" ])
      ++ [ "${root}/usr/bin" "${root}/bin" "${busybox}/bin" ]);
    consoleScripts = ./builders/console_scripts.py;
    python = if stage.python == "" then "" else "${root}/${stage.python}";
    inherit root;
    sandboxShell = "${bootstrap}/bin/busybox";
    runScript = builtins.toFile "pyrel-${stage.name}-run.sh" (concatStringsSep "\n" stage.run + "\n");
    # pyrel's in-sandbox helpers (archive normalizer, test and docs runners):
    # static files of this library, one store path.
    pyrelTools = ./tools;
    # Empty for a stage whose commands write their archives normalized (stage.sh skips the pass).
    normalizer = if stage.normalize or true then "${./tools}/normalize_archives.py" else "";
    outputGlobs = stage.outputs;
    pyrelInputs = concatStringsSep " " (attrNames inputs);
    SOURCE_DATE_EPOCH = toString stage.sourceDateEpoch;
    PYTHONDONTWRITEBYTECODE = "1";
    PYTHONUTF8 = "1";
    PYTHONHASHSEED = "0";
    LC_ALL = "C";
    TZ = "UTC";
  } // (if stage.projectTree or true then { src = source; } else { })
    // (if git == null then { } else { pyrelGit = git; }) // loaderEnv { inherit root loader; } // compilerEnv { inherit root stage; } // wheelsEnv wheels // stage.env
    // intersphinxEnv stage
    // listToAttrs (map (n: { name = "PYREL_INPUT_${sanitizeEnvName n}"; value = inputs.${n}; }) (attrNames inputs)));

  # The stage graph of a plan, one provider-independent fold: `rootFor` gives
  # a stage's system root (merged Debian packages, or nixpkgs attributes).
  # Stages are listed in dependency order by the planner, so every input stage
  # is already defined when a later stage refers to it.
  mkStages = { plan, busybox, source, rootFor, bootstrap, loader ? null }: let
    gitMetadata = if plan.gitMetadata or null == null then null
      else builtins.path { name = "pyrel-git-metadata"; path = /. + plan.gitMetadata; };
  in builtins.foldl' (built: stage:
    let
      git = if stage.git or false then gitMetadata else null;
      root = rootFor stage;
      wheels = map (unpackWheel { inherit busybox root; python = stage.python; }) stage.wheels;
      inputs = listToAttrs (map (n: { name = n; value = built.${n}; }) stage.inputs);
      pythonEnv = if stage.python == "" then null else mkPythonEnv {
        inherit busybox root wheels;
        python = stage.python;
        name = stage.derivationName;
      };
    in built // {
      ${stage.name} = mkStage { inherit busybox root pythonEnv source inputs stage bootstrap loader wheels git; };
      # What the stage's sandbox can see, for the audit: its inputs' runtime closure.
      "${stage.name}-inputs" = [ root busybox bootstrap ] ++ (if stage.projectTree or true then [ source ] else [ ]) ++ (if loader == null then [ ] else [ loader ])
        ++ (if git == null then [ ] else [ git ])
        ++ (if pythonEnv == null then [ ] else [ pythonEnv ]) ++ builtins.attrValues inputs ++ intersphinxInventories stage;
    }) { } plan.stages;

in {
  inherit mkStages fetchArtifact bootstrapFor loaderFor mkBusybox unpackDeb mkRoot unpackWheel mkPythonEnv projectSource mkStage
    compilerEnv loaderEnv platforms;
  # The plan's schema version this library reads, and planFile -> the plan (refusing any other version).
  planSchemaVersion = planFormat.schemaVersion;
  readPlan = planFormat.read;
}
