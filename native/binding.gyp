{
  # Built by `npm install` (the package's "install" script runs `node-gyp rebuild --directory native`).
  # Node's own headers are used: set `nodedir` (npm config or --nodedir) to the prefix that holds
  # include/node, e.g. /usr for Debian's nodejs, so node-gyp never downloads a header tarball.
  'targets': [
    {
      'target_name': 'tap',
      'sources': [ 'tap.cc' ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      'defines': [ 'NAPI_VERSION=8' ],
      'cflags_cc': [ '-std=c++17', '-Wall', '-Wextra' ],
      'conditions': [
        [ "OS!='linux'", { 'type': 'none' } ],
      ],
    },
  ],
}
