# What this build of ember has, for the shell test layers and make bench (bash; needs $top_builddir).

# kernel_relay_built: true if ember was configured with --enable-kernel-relay (the experimental in-kernel relay,
# --relay=kernel; off by default). make check and make bench say so in EMBER_KERNEL_RELAY (yes or no, from
# configure); a test run by hand asks the launcher itself, which refuses --relay=kernel before it reads --help when
# the relay is not built in.
kernel_relay_built() {
        case ${EMBER_KERNEL_RELAY:-} in
        yes) return 0 ;;
        no) return 1 ;;
        esac
        "$top_builddir/launcher/ember-launch" --relay=kernel --help >/dev/null 2>&1
}
KERNEL_RELAY_NOT_BUILT="this build has no in-kernel relay (it is experimental: ./configure --enable-kernel-relay)"
# need_kernel_relay: skip the whole test, saying why, where the in-kernel relay is not built in
need_kernel_relay() {
        kernel_relay_built || skip_all "$KERNEL_RELAY_NOT_BUILT"
}
